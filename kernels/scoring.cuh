// Predictions with uncertainty: for given (user, item) pairs, and dense for every item (CPU twins:
// CpuBackend::predict / predict_one and CpuBackend::score_all_items in host/cpu_backend.cpp).
//
// Pairs: a group of lanes per pair, float4 loads, shuffle reductions of m.n and the factor
// variance. Dense scores: two cuBLAS SGEMMs per block of users, each with the biases folded into a
// concatenated inner dimension so the output is written once:
//   mean = [M_u, mu0 + a_u, 1] . [N, 1, c]^T
//   var  = [M_u o M_u, S_u^2, sigma^2 + p_u^2, 1] . [T^2, N o N + T^2, 1, q^2]^T
// (inner dimensions stride + 4 and 2 stride + 4, padded with zero columns).
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
  DeviceBuffer<int32_t> users;
};

// Row-major n x items.n host outputs for `users` (host array of extended indices, validated), in
// blocks of users whose device output fits `block_bytes`.
void score_all_items(cublasHandle_t handle, const SideView& users, const SideView& items, float mu0,
                     float sigma2, const int32_t* host_users, size_t n, float* host_mean,
                     float* host_var, ScoreScratch& scratch, size_t block_bytes,
                     cudaStream_t stream);

}  // namespace ppmf::cuda
