// Per-group sums of the guide's moments for the closed-form pooling updates (CPU twin:
// CpuBackend::group_moments in host/cpu_backend.cpp).
//
// Members (rows with data) are listed once per training set, stably sorted by group with Thrust,
// so each group is a contiguous segment. For a chunk of members at a time their means and variances
// are gathered into dense double matrices; then per group segment cuBLAS sums the outer products
// (DSYRK) and the columns (DGEMV with a vector of ones), accumulating in double on the device. The
// chunk bounds the scratch memory whatever the number of users.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <vector>

#include "device_buffer.cuh"
#include "device_side.cuh"
#include "ppmf/backend.hpp"

namespace ppmf::cuda {

struct GroupOrder {
  DeviceBuffer<int32_t> members;  // rows with data, sorted by group
  std::vector<long long> starts;  // host: group g's members are members[starts[g] .. starts[g+1])
  bool valid = false;
};

void build_group_order(const SideView& side, GroupOrder& order, cudaStream_t stream);

struct MomentScratch {
  DeviceBuffer<double> x, v, ones, sums;
};

GroupMoments group_moments(cublasHandle_t handle, const SideView& side, const GroupOrder& order,
                           MomentScratch& scratch, cudaStream_t stream);

}  // namespace ppmf::cuda
