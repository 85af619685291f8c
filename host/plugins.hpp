// Where libppmf looks for the libraries it loads on demand (the CUDA plugin, the MPI transport):
// beside itself, in the build tree and after installation alike, unless an environment variable
// names one.
#pragma once

#include <string>

namespace ppmf {

// $env_var when set and not empty, else `file` in the directory of libppmf.
std::string library_beside_ppmf(const char* env_var, const std::string& file);

}  // namespace ppmf
