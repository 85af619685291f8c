// The per-epoch permutation of the training entries, identical on every backend: entry k gets the
// key splitmix64(splitmix64(seed) + k) (a bijection of k, so keys never tie) and the permutation
// sorts entries by key. The CPU sorts with an LSD radix sort (host/permutation.cpp), the GPU with
// CUB's radix sort (kernels/shuffle.cu); same seed, same batches, so the backends' training
// trajectories agree up to float rounding.
#pragma once

#include <cstdint>
#include <vector>

#include "ppmf/common.hpp"

namespace ppmf {

PPMF_HD uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The sort key of entry k, given base = splitmix64(seed).
PPMF_HD uint64_t permutation_key(uint64_t base, uint64_t k) {
  return splitmix64(base + k);
}

// perm[r] = the entry of rank r (n < 2^32).
void random_permutation(uint64_t seed, size_t n, std::vector<uint32_t>& perm);

}  // namespace ppmf
