// The two kernels of a mini-batch step (CPU twins: accumulate_batch / accumulate_row and
// row_gradient / apply_adam / export_gradient in host/cpu_backend.cpp).
//
// 1. The fused entry kernel: a group of L lanes per entry of the batch loads the four rows it
//    touches (m_i, s_i^2, n_j, t_j^2) with float4 loads, computes the residual
//    e = r - mu0 - a_i - c_j - m_i . n_j (one shuffle reduction), and adds the entry's likelihood
//    gradients (math::lik_grad_mean / lik_grad_logsd, and e for the biases) into dense per-row
//    accumulators with float4 atomicAdd. Lane 0 also counts the row's occurrences in the batch;
//    the first occurrence (the atomicAdd that returns 0) appends the row to the side's touched
//    list.
//
//    Duplicate rows: every occurrence of a row in the batch adds into the same accumulator row, so
//    a row's likelihood gradient is the sum over all its entries in the batch, exactly as the CPU's
//    per-row loop over its entries; only the order of the float additions differs (atomics), which
//    is why results match the CPU to rounding, not bit for bit. Atomics rather than the CPU's
//    sort-by-row: sorting a batch costs more device traffic than the few collisions it avoids (a
//    batch touches ~1 row per entry on the user side), and red.global.add.v4.f32 resolves in L2.
//
// 2. The row kernel, over touched rows only: g = scale * (lik / sigma^2 + occ / count * d(-KL))
//    (math::kl_grad_*), then, by mode, a lazy Adam step (math::adam_ascend, clamp_logsd, variance
//    refresh with math::exp_vectorizable), or the gradient written to a dense export buffer, or
//    nothing (kClear, for timing runs). In every mode it zeroes the row's accumulators and
//    occurrence count again, so the next batch starts from zero without touching untouched rows.
//
// Touched counters: a batch appends with touched_count[p]; the row kernel reads that count and
// zeroes touched_count[1 - p]; the next batch uses 1 - p. So a step is two launches, with no memset
// and no host round trip. (The full-batch path passes the precomputed active-row list instead.)
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "device_side.cuh"
#include "ppmf/entry_math.hpp"

namespace ppmf::cuda {

// Entries of one batch, already offset to its first entry.
struct BatchView {
  const int32_t* user = nullptr;
  const int32_t* item = nullptr;
  const float* value = nullptr;
  long long count = 0;
};

// Accumulates the likelihood gradients of the batch into both sides (counters
// touched_count[parity]).
void launch_entry_kernel(const SideView& users, const SideView& items, const BatchView& batch,
                         int parity, float mu0, cudaStream_t stream);

enum class RowMode : int { kAdam = 0, kExport = 1, kClear = 2 };

// The rows a row kernel visits: `rows[0 .. *count)`; `capacity` bounds *count (sizes the grid);
// `reset`, if not null, is zeroed by the kernel (the other batch counter).
struct RowList {
  const int32_t* rows = nullptr;
  const int32_t* count = nullptr;
  int32_t* reset = nullptr;
  long long capacity = 0;
};

// Dense gradient output of kExport, shaped like the guide (zeroed by the caller).
struct ExportView {
  float *mean = nullptr, *logsd = nullptr, *bias_mean = nullptr, *bias_logsd = nullptr;
};

struct RowUpdate {
  RowMode mode = RowMode::kAdam;
  float scale = 1.f, sigma2 = 1.f;
  math::AdamStep adam{};
};

// One launch over the touched rows of both sides.
void launch_row_kernel(const RowUpdate& update, const SideView& users, const RowList& user_rows,
                       const ExportView& user_out, const SideView& items, const RowList& item_rows,
                       const ExportView& item_out, int sm_count, cudaStream_t stream);

}  // namespace ppmf::cuda
