// How rows of `stride` floats are spread over the lanes of a warp: a group of L lanes (1..32, a
// power of two) works on one entry or one row, each lane owning up to C float4 chunks of it
// (chunk k4 = lane + c * L). The per-row loops of host/cpu_backend.cpp (accumulate_row, adam_row)
// are the CPU twins of what one lane group does.
//
// L and C are template parameters of the kernels so that register arrays are indexed with
// compile-time constants (no local memory); dispatch_lanes picks the instantiation for a stride.
#pragma once

#include <type_traits>
#include <utility>

#include "ppmf/common.hpp"

namespace ppmf::cuda {

constexpr int kBlockThreads = 256;  // every lane-group kernel; a multiple of 32
constexpr int kMaxRank = 1024;      // same bound as the CPU backend (C <= 8 below)

struct LaneShape {
  int lanes = 1, chunks_per_lane = 1;
};

inline LaneShape lane_shape(int stride) {
  const int chunks = stride / 4;
  LaneShape s;
  if (chunks <= 32) {
    while (s.lanes < chunks) s.lanes *= 2;
    return s;
  }
  s.lanes = 32;
  s.chunks_per_lane = 2;
  while (s.lanes * s.chunks_per_lane < chunks) s.chunks_per_lane *= 2;
  return s;
}

// Calls fn(std::integral_constant<int, L>, std::integral_constant<int, C>) for the shape.
template <typename Fn>
void dispatch_lanes(const LaneShape& s, Fn&& fn) {
  using std::integral_constant;
  if (s.chunks_per_lane == 1) {
    switch (s.lanes) {
      case 1:
        return fn(integral_constant<int, 1>{}, integral_constant<int, 1>{});
      case 2:
        return fn(integral_constant<int, 2>{}, integral_constant<int, 1>{});
      case 4:
        return fn(integral_constant<int, 4>{}, integral_constant<int, 1>{});
      case 8:
        return fn(integral_constant<int, 8>{}, integral_constant<int, 1>{});
      case 16:
        return fn(integral_constant<int, 16>{}, integral_constant<int, 1>{});
      default:
        return fn(integral_constant<int, 32>{}, integral_constant<int, 1>{});
    }
  }
  switch (s.chunks_per_lane) {
    case 2:
      return fn(integral_constant<int, 32>{}, integral_constant<int, 2>{});
    case 4:
      return fn(integral_constant<int, 32>{}, integral_constant<int, 4>{});
    default:
      return fn(integral_constant<int, 32>{}, integral_constant<int, 8>{});
  }
}

// Blocks for `groups` lane groups of L lanes, at most `cap` blocks (kernels loop grid-stride).
inline unsigned blocks_for(long long groups, int lanes, long long cap) {
  const long long per_block = kBlockThreads / lanes;
  long long b = (groups + per_block - 1) / per_block;
  if (b < 1) b = 1;
  if (b > cap) b = cap;
  return static_cast<unsigned>(b);
}

#if defined(__CUDACC__)
// Sum over the L lanes of a group (L a power of two dividing 32, groups aligned in the warp). Every
// lane of the warp must call it.
template <int L>
__device__ __forceinline__ float group_sum(float v) {
#pragma unroll
  for (int o = L / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// The lanes of this thread's group, for __syncwarp.
template <int L>
__device__ __forceinline__ unsigned group_mask() {
  if (L == 32) return 0xffffffffu;
  const unsigned lane_in_warp = threadIdx.x & 31u;
  return ((1u << (L & 31)) - 1u) << (lane_in_warp & ~static_cast<unsigned>(L - 1));
}

__device__ __forceinline__ float4 load4(const float* p) {
  return __ldg(reinterpret_cast<const float4*>(p));
}
__device__ __forceinline__ float4 zero4() {
  return make_float4(0.f, 0.f, 0.f, 0.f);
}
// Components at k >= rank (row padding) become 0.
__device__ __forceinline__ float4 mask4(float4 v, int k0, int rank) {
  if (k0 + 0 >= rank) v.x = 0.f;
  if (k0 + 1 >= rank) v.y = 0.f;
  if (k0 + 2 >= rank) v.z = 0.f;
  if (k0 + 3 >= rank) v.w = 0.f;
  return v;
}
#endif

}  // namespace ppmf::cuda
