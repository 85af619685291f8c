// library_beside_ppmf (plugins.hpp).
#include "plugins.hpp"

#include <dlfcn.h>

#include <cstdlib>

namespace ppmf {

std::string library_beside_ppmf(const char* env_var, const std::string& file) {
  if (const char* env = std::getenv(env_var); env != nullptr && *env != '\0') return env;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&library_beside_ppmf), &info) == 0 || info.dli_fname == nullptr)
    return file;
  std::string dir = info.dli_fname;
  const size_t slash = dir.rfind('/');
  dir = slash == std::string::npos ? "." : dir.substr(0, slash);
  return dir + "/" + file;
}

}  // namespace ppmf
