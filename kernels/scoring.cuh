// Predictions with uncertainty: for given (user, item) pairs, and dense for every item (CPU twins:
// CpuBackend::predict / predict_one and CpuBackend::score_all_items in host/cpu_backend.cpp).
//
// Pairs: a thread per pair, math::entry_moments for two trained rows and
// math::entry_moments_general when a prior row (full covariance) is involved. Dense scores of
// trained users: two cuBLAS SGEMMs per block of users, the biases folded into concatenated inner
// dimensions so the output is written once:
//   mean = [m_u, mu0 + a_u, 1] . [n_j, 1, c_j]
//   var  = [m_u o m_u, s_u^2, sigma^2 + p_u^2, 1] . [t_j^2, n_j o n_j + t_j^2, 1, q_j^2]
// (inner dimensions padded with zero columns to multiples of 4). Prior rows among the users are
// scored once each by the pair kernel's general path and copied to their output rows.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "device_buffer.cuh"
#include "device_side.cuh"
#include "ppmf/backend.hpp"

namespace ppmf::cuda {

// mean/var[k] of pairs[k] (extended indices, already validated), all pointers on the device.
void predict_pairs(const SideView& users, const SideView& items, const PairIndex* pairs,
                   long long n, float mu0, float sigma2, float* mean, float* var,
                   cudaStream_t stream);

struct ScoreScratch {
  DeviceBuffer<float> item_mean_ops, item_var_ops, user_mean_ops, user_var_ops, mean, var;
  DeviceBuffer<float> prior_mean, prior_var;
  DeviceBuffer<int32_t> users;
  DeviceBuffer<PairIndex> pairs;
};

// Row-major n x items.n host outputs for `users` (host array of extended indices, validated), in
// blocks of users whose device output fits `block_bytes`.
void score_all_items(cublasHandle_t handle, const SideView& users, const SideView& items, float mu0,
                     float sigma2, const int32_t* host_users, size_t n, float* host_mean,
                     float* host_var, ScoreScratch& scratch, size_t block_bytes,
                     cudaStream_t stream);

}  // namespace ppmf::cuda
