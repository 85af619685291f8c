// Saving and loading a trained Model as one binary file: a checksummed, versioned header and an
// explicit little-endian payload. Saving replaces the file atomically; loading refuses any file
// that is truncated, corrupt, inconsistent or of an unknown format version, with a one-line
// ppmf::Error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ppmf/model.hpp"

namespace ppmf {

// Bumped whenever the payload layout changes. This build writes version 3 (the watch model's
// part, when trained) and reads versions 1 (diagonal priors: loaded as diagonal covariances; no
// size-biased prior of new users) and 2 (full-covariance group priors, the size-biased prior,
// validation metrics in the history); models of both have no watch part.
constexpr uint32_t kModelFormatVersion = 3;

void save_model(const Model& m, const std::string& path);
// The bytes save_model writes (for sending a model between processes).
std::string model_file_bytes(const Model& m);
// The payload checksum: the CRC-32 of zlib (same value), built in.
uint32_t crc32_of(std::string_view data);
Model load_model(const std::string& path);
// The same from the file's bytes in memory; `name` is used in error messages.
Model parse_model(const std::string& name, const std::string& file);

}  // namespace ppmf
