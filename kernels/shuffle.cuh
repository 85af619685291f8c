// A fresh permutation of the training entries, built on the device: the keys of
// include/ppmf/permutation.hpp, a radix sort of (key, k), then a gather into the batch arrays, so
// every batch is a contiguous range there and steps read their entries with coalesced loads. The
// CPU twin (host/permutation.cpp) draws the same permutation for the same seed.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace ppmf::cuda {

struct EntryArrays {
  int32_t* user = nullptr;
  int32_t* item = nullptr;
  float* value = nullptr;
};

// Device scratch bytes shuffle_entries needs for n entries (keys, indices, sort workspace).
size_t shuffle_scratch_bytes(size_t n);

// dst[k] = src[perm[k]] for a permutation drawn from `seed`; src and dst must not overlap.
void shuffle_entries(uint64_t seed, const EntryArrays& src, const EntryArrays& dst, size_t n,
                     void* scratch, size_t scratch_bytes, cudaStream_t stream);

}  // namespace ppmf::cuda
