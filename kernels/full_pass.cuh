// Full passes over all training entries with cuSPARSE (CPU twins in host/cpu_backend.cpp:
// CpuBackend::train_pass / side_kl, and accumulate_batch + run_phase for the full batch).
//
// The training entries are held twice as CSR matrices: by user (users x items, columns sorted
// within a row) and by item (items x users), with a map from each item-major position to its
// user-major position. Factor matrices are the guide's own row-major arrays (ld = stride; the
// padding columns are 0, so they add nothing to the products).
//
// train_pass: SDDMM gives, at every observed (i, j), the mean product m_i . n_j and the factor
// variance sum_k (m_ik^2 t_jk^2 + n_jk^2 s_ik^2 + s_ik^2 t_jk^2) as one product with concatenated
// inner dimension, [M o M, S^2] . [T^2, N o N + T^2]^T; a reduction kernel then sums E[(r - f)^2]
// and (r - mean)^2 in double, and a second kernel the KL terms of every entity with data
// (math::kl_term), each block writing a partial that the host adds in a fixed order.
//
// full_batch_gradient (step/gradient on the whole of the data): residuals from SDDMM, then SpMM
// with the residual matrix E and the pattern P:
//   user i: sum_j e_ij n_j - m_i o sum_j t_j^2 = (E [N, 1])_i - m_i o (P T^2)_i,
//           -s_i^2 o sum_j (n_j^2 + t_j^2)   = -s_i^2 o (P (N o N + T^2))_i,   bias: (E 1)_i,
//   item j: the same with E^T, P^T and the users' M, S^2,
// written into the same per-row accumulators that the entry kernel fills, with occ = count, so the
// row kernel then runs over the active rows exactly as after a mini-batch.
#pragma once

#include <cuda_runtime.h>
#include <cusparse.h>

#include <cstdint>

#include "device_buffer.cuh"
#include "device_side.cuh"

namespace ppmf::cuda {

struct CsrView {
  int rows = 0, cols = 0;
  const int32_t* row_ptr = nullptr;  // rows + 1
  const int32_t* col = nullptr;      // nnz
};

// The training entries in device memory, in user-major order plus the item-major pattern.
struct TrainingView {
  long long nnz = 0;
  CsrView by_user;                    // users x items
  const int32_t* user_of = nullptr;   // row (user) of each user-major position
  const float* value = nullptr;       // value of each user-major position
  CsrView by_item;                    // items x users
  const int32_t* user_pos = nullptr;  // user-major position of each item-major position
};

// Dense and per-entry scratch of the full passes, carved by the backend. Sizes (floats):
// wu: users * 2 stride, wv: items * 2 stride, b1 and c1: max(users, items) * (stride + 4),
// c2: max(users, items) * 2 stride, dot / aux / ones: nnz; partials: kPartialBlocks * 4 doubles.
struct PassScratch {
  float *wu = nullptr, *wv = nullptr, *b1 = nullptr, *c1 = nullptr, *c2 = nullptr;
  float *dot = nullptr, *aux = nullptr, *ones = nullptr;
  double* partials = nullptr;
  DeviceBuffer<unsigned char>* workspace = nullptr;  // cuSPARSE buffer, grown on demand
};

constexpr int kPartialBlocks = 512;

struct PassSums {
  double sse_expected = 0, sse_mean = 0, kl_users = 0, kl_items = 0;
};

// Sums of E[(r - f)^2] and (r - mean)^2 over all entries and the KL of both sides.
PassSums train_pass_sums(cusparseHandle_t handle, const TrainingView& data, const SideView& users,
                         const SideView& items, float mu0, const PassScratch& scratch,
                         cudaStream_t stream);

// The likelihood gradients of the full batch into both sides' accumulators (occ = count).
void full_batch_gradient(cusparseHandle_t handle, const TrainingView& data, const SideView& users,
                         const SideView& items, float mu0, const PassScratch& scratch,
                         cudaStream_t stream);

}  // namespace ppmf::cuda
