// Per-group sums of the guide's moments for the closed-form pooling updates (CPU twin:
// CpuBackend::group_moments in host/cpu_backend.cpp), and the list of rows with data.
//
// Members (entities with count > 0) are listed once per training set, stably sorted by group with
// Thrust, so each group is a contiguous segment. The segmented reduction is a kernel: a block takes
// a chunk of consecutive members, a thread a column (a factor dimension, or the bias), and sums in
// double along the chunk, flushing to the group's totals (double atomicAdd) where the group
// changes. Rows are read coalesced along the columns. (thrust::reduce_by_key would need the
// column-major order, i.e. strided reads; a cuBLAS GEMV would sum in float.)
#pragma once

#include <cuda_runtime.h>

#include "device_buffer.cuh"
#include "device_side.cuh"
#include "ppmf/backend.hpp"

namespace ppmf::cuda {

struct GroupOrder {
  DeviceBuffer<int32_t> members, member_group;  // rows with data, sorted by group; their groups
  long long n_members = 0;
  bool valid = false;
};

// Writes the rows with count > 0 to `active` (ascending) and their number to *active_count
// (device); returns that number.
long long build_active_rows(const int32_t* count, int n, int32_t* active, int32_t* active_count,
                            cudaStream_t stream);

void build_group_order(const SideView& side, GroupOrder& order, cudaStream_t stream);

GroupMoments group_moments(const SideView& side, const GroupOrder& order,
                           DeviceBuffer<double>& sums, cudaStream_t stream);

}  // namespace ppmf::cuda
