// The exact row solves of a sweep on the GPU. CPU twin: RowSolver (host/row_solver.cpp) driven by
// CpuBackend::solve_rows (host/cpu_backend.cpp); the formulas are in host/row_solver.hpp.
//
// One thread block per row (grid-stride over the rows of the range):
//   1. the row's entries go through shared memory 32 at a time (counterpart mean and variance
//      rows, and the target); each thread owns cells of the lower triangle of
//      P = sum_e E[w_e w_e^T] and accumulates them in double, reading the staged rows;
//   2. P = P0 + P / sigma^2, b = P0 M + b / sigma^2 with the row's group prior (double);
//   3. a right-looking Cholesky, column by column (the trailing update spread over the block);
//   4. forward and back substitution for the mean;
//   5. the marginal variances diag(P^-1): thread c solves for column c of L^-1, kept in the (free)
//      strict upper triangle of P, and sums its squares;
//   6. mean, log-sd (clamped) and variance written back.
// P lives in shared memory when it fits the device's per-block limit (up to dim ~ 150 on Hopper,
// ~ 110 on Ampere, the usual ranks); beyond, each block in flight uses its own slab of a global
// scratch buffer (slower, still correct).
#pragma once

#include <cuda_runtime.h>

#include "device_buffer.cuh"
#include "device_side.cuh"
#include "ppmf/backend.hpp"

namespace ppmf::cuda {

// Solves rows [begin, end) of `side` given `other`. `failed` (device, one int) is set to 1 when
// some row's precision is not positive definite; `scratch` grows as needed for large ranks.
// `max_shared_bytes` is the device's opt-in shared memory per block.
// With `background` (implicit_background's output) the watch model's implicit zeros of weight
// `zero_weight` join every row (the entries' values are then confidences; mu0 is not used).
// Distributed training (Backend::row_statistics, solve_rows_from): with `stats_out` (device,
// row_statistics_size(rank) doubles per row from `begin`) each row's count and sums are written
// there and nothing is solved; with `stats_in` the rows are solved from those sums instead of
// their entries (rows of count 0 left as they are).
void solve_rows(const SideView& side, const SideView& other, int begin, int end, float mu0,
                float sigma2, int* failed, DeviceBuffer<double>& scratch, int sm_count,
                size_t max_shared_bytes, cudaStream_t stream, float zero_weight = 0.f,
                const double* background = nullptr, double* stats_out = nullptr,
                const double* stats_in = nullptr);

// Rows [begin, end) of `side` to and from `packed` (device; per row dim means, then dim log-sds);
// unpack_rows sets the variances as a solve does.
void pack_rows(const SideView& side, int begin, int end, float* packed, cudaStream_t stream);
void unpack_rows(const SideView& side, int begin, int end, const float* packed,
                 cudaStream_t stream);

// The implicit zeros' background of `other` into `out`: the lower triangle of
// sum_j E[w_j w_j^T] (dim x dim), then sum_j (0 - beta_j) w_j (dim), in double; `scratch` holds
// per-block partial sums.
void implicit_background(const SideView& other, DeviceBuffer<double>& out,
                         DeviceBuffer<double>& scratch, int sm_count, cudaStream_t stream);

}  // namespace ppmf::cuda
