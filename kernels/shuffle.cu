// Device shuffle of the training entries: random keys, a CUB radix sort, a gather. See shuffle.cuh;
// CPU twin: random_permutation in host/permutation.cpp (the same keys, so the same permutation).
//
// The sort is CUB's DeviceRadixSort (the engine under thrust::sort_by_key) called directly, so that
// its workspace is part of the scratch sized and checked in load_training: no hidden allocation and
// no synchronization per epoch.
#include <cub/device/device_radix_sort.cuh>

#include "cuda_check.cuh"
#include "ppmf/permutation.hpp"
#include "shuffle.cuh"

namespace ppmf::cuda {
namespace {

constexpr size_t kAlign = 256;
size_t align_up(size_t b) {
  return (b + kAlign - 1) / kAlign * kAlign;
}

__global__ void make_keys(uint64_t base, uint64_t* keys, int32_t* index, long long n) {
  for (long long k = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<long long>(gridDim.x) * blockDim.x) {
    keys[k] = permutation_key(base, static_cast<uint64_t>(k));
    index[k] = static_cast<int32_t>(k);
  }
}

__global__ void gather_entries(const int32_t* __restrict__ perm, EntryArrays src, EntryArrays dst,
                               long long n) {
  for (long long k = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int32_t from = perm[k];
    dst.user[k] = __ldg(src.user + from);
    dst.item[k] = __ldg(src.item + from);
    dst.value[k] = __ldg(src.value + from);
  }
}

size_t sort_temp_bytes(size_t n) {
  size_t bytes = 0;
  cub::DoubleBuffer<uint64_t> keys(nullptr, nullptr);
  cub::DoubleBuffer<int32_t> values(nullptr, nullptr);
  PPMF_CUDA_CHECK(
      cub::DeviceRadixSort::SortPairs(nullptr, bytes, keys, values, static_cast<int>(n)));
  return bytes;
}

unsigned grid_for(long long n) {
  const long long b = (n + 255) / 256;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 ? 65535 : b));
}

}  // namespace

size_t shuffle_scratch_bytes(size_t n) {
  return 2 * align_up(n * sizeof(uint64_t)) + 2 * align_up(n * sizeof(int32_t)) +
         align_up(sort_temp_bytes(n));
}

void shuffle_entries(uint64_t seed, const EntryArrays& src, const EntryArrays& dst, size_t n,
                     void* scratch, size_t scratch_bytes, cudaStream_t stream) {
  if (n == 0) return;
  if (scratch_bytes < shuffle_scratch_bytes(n)) throw Error("shuffle: scratch buffer too small");
  auto* p = static_cast<unsigned char*>(scratch);
  auto carve = [&](size_t bytes) {
    void* out = p;
    p += align_up(bytes);
    return out;
  };
  auto* keys = static_cast<uint64_t*>(carve(n * sizeof(uint64_t)));
  auto* keys_alt = static_cast<uint64_t*>(carve(n * sizeof(uint64_t)));
  auto* index = static_cast<int32_t*>(carve(n * sizeof(int32_t)));
  auto* index_alt = static_cast<int32_t*>(carve(n * sizeof(int32_t)));
  size_t temp_bytes = sort_temp_bytes(n);
  void* temp = carve(temp_bytes);

  const long long count = static_cast<long long>(n);
  make_keys<<<grid_for(count), 256, 0, stream>>>(splitmix64(seed), keys, index, count);
  PPMF_CUDA_CHECK_LAUNCH();
  cub::DoubleBuffer<uint64_t> key_buf(keys, keys_alt);
  cub::DoubleBuffer<int32_t> index_buf(index, index_alt);
  PPMF_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, key_buf, index_buf,
                                                  static_cast<int>(n), 0, 64, stream));
  gather_entries<<<grid_for(count), 256, 0, stream>>>(index_buf.Current(), src, dst, count);
  PPMF_CUDA_CHECK_LAUNCH();
}

}  // namespace ppmf::cuda
