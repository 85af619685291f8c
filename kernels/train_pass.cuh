// The full pass over the training entries and rows after a sweep: the sums of E[(r - f)^2] and
// (r - E[f])^2 over all entries, and the KL of every row with data to its group prior. CPU twins:
// CpuBackend::train_pass and side_kl in host/cpu_backend.cpp (the same per-entry and per-row
// formulas of include/ppmf/entry_math.hpp).
//
// Each block writes one partial per sum and the host adds the partials in block order, so a
// result does not depend on how the hardware scheduled the blocks.
#pragma once

#include <cuda_runtime.h>

#include "device_buffer.cuh"
#include "device_side.cuh"

namespace ppmf::cuda {

struct PassSums {
  double sse_expected = 0, sse_mean = 0, kl_users = 0, kl_items = 0;
};

PassSums train_pass(const SideView& users, const SideView& items, float mu0,
                    DeviceBuffer<double>& partials, cudaStream_t stream);

}  // namespace ppmf::cuda
