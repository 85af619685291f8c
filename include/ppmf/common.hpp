// Project-wide basics: the error types every library function throws, the host+device marker for
// code shared with CUDA, and a small explicit-seed random generator (identical on every platform,
// unlike std:: distributions).
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#if defined(__CUDACC__)
#define PPMF_HD __host__ __device__ __forceinline__
#else
#define PPMF_HD inline
#endif

namespace ppmf {

// Thrown for anything a user can cause (bad input, missing device, corrupt file). The library
// never prints; front ends show what() as one line.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A setting out of range. `field` is the setting's name as the API spells it (a ModelConfig or
// TrainConfig member, "device", "k", ...); front ends show it as their own option name (the CLI as
// --field-name, Python as the keyword). what() reads "field: detail".
class ConfigError : public Error {
 public:
  ConfigError(std::string field, const std::string& detail)
      : Error(field + ": " + detail), field_(std::move(field)), detail_(detail) {}
  const std::string& field() const { return field_; }
  const std::string& detail() const { return detail_; }

 private:
  std::string field_, detail_;
};

// Thrown when work stops on request (a signal, TrainCallbacks::cancelled; see cancel.hpp).
class Cancelled : public Error {
 public:
  using Error::Error;
};

// The splitmix64 finalizer (with its usual 0x9E3779B97F4A7C15 increment): a bijection of 64-bit
// values that mixes every input bit into every output bit.
PPMF_HD uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A 64-bit hash of a string id (FNV-1a, then mixed): the same on every platform and in every
// run, so splits drawn from it do not depend on file order or on how the data are partitioned.
inline uint64_t hash_id(std::string_view id) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : id) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return splitmix64(h);
}

// A uniform draw in [0, 1) from a hash (its top 53 bits).
inline double hash_fraction(uint64_t h) {
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

// splitmix64-seeded xoshiro256**: fast, reproducible, and good enough for shuffles and init.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& s : state_) s = splitmix(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n); Lemire's multiply-shift (bias < 2^-32 for n < 2^32).
  uint64_t below(uint64_t n) {
    __extension__ typedef unsigned __int128 u128;
    return static_cast<uint64_t>((static_cast<u128>(next()) * n) >> 64);
  }
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(6.283185307179586 * u2);
    has_spare_ = true;
    return r * std::cos(6.283185307179586 * u2);
  }
  // Gamma(shape, 1) by Marsaglia-Tsang.
  double gamma(double shape) {
    if (shape < 1.0) return gamma(shape + 1.0) * std::pow(uniform() + 1e-300, 1.0 / shape);
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x = normal(), v = 1.0 + c * x;
      if (v <= 0) continue;
      v = v * v * v;
      const double u = uniform();
      if (std::log(u + 1e-300) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
    }
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t state_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

// Rows of factor arrays are padded to a multiple of 4 floats so the GPU can use 16-byte loads.
inline int padded_stride(int rank) {
  return (rank + 3) & ~3;
}

}  // namespace ppmf
