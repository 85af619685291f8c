// Saving and loading a trained Model as one binary file: a checksummed, versioned header and an
// explicit little-endian payload. Saving replaces the file atomically; loading refuses any file
// that is truncated, corrupt, inconsistent or of another format version, with a one-line
// ppmf::Error.
#pragma once

#include <cstdint>
#include <string>

#include "ppmf/model.hpp"

namespace ppmf {

// Bumped whenever the payload layout changes; a build reads only its own version.
constexpr uint32_t kModelFormatVersion = 1;

void save_model(const Model& m, const std::string& path);
Model load_model(const std::string& path);

}  // namespace ppmf
