// The fused entry kernel (residual + likelihood gradients + occurrence counts) and the row kernel
// (KL share + lazy Adam / gradient export / clear) of a mini-batch step. See step_kernels.cuh for
// the scheme; CPU twins: accumulate_row, row_gradient, apply_adam, export_gradient in
// host/cpu_backend.cpp.
#include "cuda_check.cuh"
#include "lanes.cuh"
#include "step_kernels.cuh"

namespace ppmf::cuda {
namespace {

struct EntryArgs {
  SideView users, items;
  BatchView batch;
  int parity;
  float mu0;
};

// Component j of a float4 (j a compile-time constant after unrolling: stays in registers).
__device__ __forceinline__ float& at(float4& v, int j) {
  return reinterpret_cast<float*>(&v)[j];
}
__device__ __forceinline__ float at(const float4& v, int j) {
  return reinterpret_cast<const float*>(&v)[j];
}

template <int L, int C>
__global__ void __launch_bounds__(kBlockThreads) entry_kernel(const __grid_constant__ EntryArgs a) {
  const SideView& U = a.users;
  const SideView& V = a.items;
  const long long t = (static_cast<long long>(blockIdx.x) * kBlockThreads + threadIdx.x) / L;
  const int lane = static_cast<int>(threadIdx.x) & (L - 1);
  const bool valid = t < a.batch.count;
  int32_t u = 0, i = 0;
  float r = 0.f;
  if (valid) {
    u = __ldg(a.batch.user + t);
    i = __ldg(a.batch.item + t);
    r = __ldg(a.batch.value + t);
  }
  const int stride = U.stride, rank = U.rank, chunks = stride >> 2;
  const float* mrow = U.mean + static_cast<size_t>(u) * stride;
  const float* srow = U.var + static_cast<size_t>(u) * stride;
  const float* nrow = V.mean + static_cast<size_t>(i) * stride;
  const float* qrow = V.var + static_cast<size_t>(i) * stride;

  // All loads first (4 C float4 in flight per lane), then the dot product.
  float4 m[C], s[C], n[C], q[C];
#pragma unroll
  for (int c = 0; c < C; ++c) {
    const int k4 = lane + c * L;
    if (valid && k4 < chunks) {
      m[c] = load4(mrow + 4 * k4);
      n[c] = load4(nrow + 4 * k4);
      s[c] = load4(srow + 4 * k4);
      q[c] = load4(qrow + 4 * k4);
    } else {
      m[c] = n[c] = s[c] = q[c] = zero4();
    }
  }
  const float bu = valid ? __ldg(U.bias_mean + u) : 0.f;
  const float bi = valid ? __ldg(V.bias_mean + i) : 0.f;
  float dot = 0.f;
#pragma unroll
  for (int c = 0; c < C; ++c)
    dot += m[c].x * n[c].x + m[c].y * n[c].y + m[c].z * n[c].z + m[c].w * n[c].w;
  dot = group_sum<L>(dot);  // every lane of the warp takes part: no early exit above
  if (!valid) return;
  const float e = r - a.mu0 - bu - bi - dot;

#pragma unroll
  for (int c = 0; c < C; ++c) {
    const int k4 = lane + c * L;
    if (k4 >= chunks) continue;
    float4 gmu, gwu, gmv, gwv;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      at(gmu, j) = math::lik_grad_mean(e, at(n[c], j), at(m[c], j), at(q[c], j));
      at(gwu, j) = math::lik_grad_logsd(at(s[c], j), at(n[c], j), at(q[c], j));
      at(gmv, j) = math::lik_grad_mean(e, at(m[c], j), at(n[c], j), at(s[c], j));
      at(gwv, j) = math::lik_grad_logsd(at(q[c], j), at(m[c], j), at(s[c], j));
    }
    const int k0 = 4 * k4;
    if (k0 + 4 >
        rank) {  // the last chunk of a rank that is not a multiple of 4: padding adds nothing
      gmu = mask4(gmu, k0, rank);
      gwu = mask4(gwu, k0, rank);
      gmv = mask4(gmv, k0, rank);
      gwv = mask4(gwv, k0, rank);
    }
    atomicAdd(reinterpret_cast<float4*>(U.g_mean + static_cast<size_t>(u) * stride + k0), gmu);
    atomicAdd(reinterpret_cast<float4*>(U.g_logsd + static_cast<size_t>(u) * stride + k0), gwu);
    atomicAdd(reinterpret_cast<float4*>(V.g_mean + static_cast<size_t>(i) * stride + k0), gmv);
    atomicAdd(reinterpret_cast<float4*>(V.g_logsd + static_cast<size_t>(i) * stride + k0), gwv);
  }
  if (lane == 0) {
    atomicAdd(U.g_bias + u, e);
    atomicAdd(V.g_bias + i, e);
    if (atomicAdd(U.occ + u, 1) == 0) U.touched[atomicAdd(U.touched_count + a.parity, 1)] = u;
    if (atomicAdd(V.occ + i, 1) == 0) V.touched[atomicAdd(V.touched_count + a.parity, 1)] = i;
  }
}

struct RowSide {
  SideView s;
  RowList list;
  ExportView out;
  unsigned block_begin, block_count;
};

struct RowArgs {
  RowSide side[2];
  RowUpdate up;
};

// One row: the estimator's gradient (row_gradient on the CPU), then Adam / export / nothing, and
// the accumulators cleared.
template <int L, int C>
__device__ __forceinline__ void update_row(const RowSide& sa, const RowUpdate& up, int32_t row,
                                           int lane) {
  const SideView& s = sa.s;
  const int32_t occ = s.occ[row];
  const int32_t cnt = s.count[row];
  const int32_t g = s.group[row];
  __syncwarp(group_mask<L>());  // every lane has read occ before lane 0 clears it
  const float lik = up.scale / up.sigma2;
  const float kl = up.scale * static_cast<float>(occ) / static_cast<float>(cnt);
  const size_t at_row = static_cast<size_t>(row) * s.stride;
  const size_t at_prior = static_cast<size_t>(g) * s.stride;
  const int chunks = s.stride >> 2;
#pragma unroll
  for (int c = 0; c < C; ++c) {
    const int k4 = lane + c * L;
    if (k4 >= chunks) continue;
    const int k0 = 4 * k4;
    float4* gm_acc = reinterpret_cast<float4*>(s.g_mean + at_row + k0);
    float4* gw_acc = reinterpret_cast<float4*>(s.g_logsd + at_row + k0);
    const float4 lm = *gm_acc, lw = *gw_acc;
    *gm_acc = zero4();
    *gw_acc = zero4();
    if (up.mode == RowMode::kClear) continue;
    float4 mean = *reinterpret_cast<const float4*>(s.mean + at_row + k0);
    float4 var = *reinterpret_cast<const float4*>(s.var + at_row + k0);
    const float4 pm = load4(s.prior_mean + at_prior + k0);
    const float4 pp = load4(s.prior_prec + at_prior + k0);
    float4 gm, gw;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      at(gm, j) = lik * at(lm, j) + kl * math::kl_grad_mean(at(mean, j), at(pm, j), at(pp, j));
      at(gw, j) = lik * at(lw, j) + kl * math::kl_grad_logsd(at(var, j), at(pp, j));
    }
    if (up.mode == RowMode::kExport) {
      *reinterpret_cast<float4*>(sa.out.mean + at_row + k0) = mask4(gm, k0, s.rank);
      *reinterpret_cast<float4*>(sa.out.logsd + at_row + k0) = mask4(gw, k0, s.rank);
      continue;
    }
    float4 logsd = *reinterpret_cast<const float4*>(s.logsd + at_row + k0);
    float4 m1m = *reinterpret_cast<const float4*>(s.m1_mean + at_row + k0);
    float4 m2m = *reinterpret_cast<const float4*>(s.m2_mean + at_row + k0);
    float4 m1w = *reinterpret_cast<const float4*>(s.m1_logsd + at_row + k0);
    float4 m2w = *reinterpret_cast<const float4*>(s.m2_logsd + at_row + k0);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if (k0 + j >= s.rank) continue;  // padding keeps its values (0)
      at(mean, j) = math::adam_ascend(at(mean, j), at(gm, j), at(m1m, j), at(m2m, j), up.adam);
      const float w = math::clamp_logsd(
          math::adam_ascend(at(logsd, j), at(gw, j), at(m1w, j), at(m2w, j), up.adam));
      at(logsd, j) = w;
      at(var, j) = math::exp_vectorizable(2.0f * w);
    }
    *reinterpret_cast<float4*>(s.mean + at_row + k0) = mean;
    *reinterpret_cast<float4*>(s.logsd + at_row + k0) = logsd;
    *reinterpret_cast<float4*>(s.var + at_row + k0) = var;
    *reinterpret_cast<float4*>(s.m1_mean + at_row + k0) = m1m;
    *reinterpret_cast<float4*>(s.m2_mean + at_row + k0) = m2m;
    *reinterpret_cast<float4*>(s.m1_logsd + at_row + k0) = m1w;
    *reinterpret_cast<float4*>(s.m2_logsd + at_row + k0) = m2w;
  }
  if (lane != 0) return;
  const float lik_bias = s.g_bias[row];
  s.g_bias[row] = 0.f;
  s.occ[row] = 0;
  if (up.mode == RowMode::kClear) return;
  const float bm = s.bias_mean[row], bv = s.bias_var[row];
  const float gb =
      lik * lik_bias + kl * math::kl_grad_mean(bm, s.prior_bias_mean[g], s.prior_bias_prec[g]);
  const float gp = lik * (static_cast<float>(occ) * math::lik_grad_bias_logsd(bv)) +
                   kl * math::kl_grad_logsd(bv, s.prior_bias_prec[g]);
  if (up.mode == RowMode::kExport) {
    sa.out.bias_mean[row] = gb;
    sa.out.bias_logsd[row] = gp;
    return;
  }
  s.bias_mean[row] = math::adam_ascend(bm, gb, s.m1_bias[row], s.m2_bias[row], up.adam);
  const float w = math::clamp_logsd(math::adam_ascend(s.bias_logsd[row], gp, s.m1_bias_logsd[row],
                                                      s.m2_bias_logsd[row], up.adam));
  s.bias_logsd[row] = w;
  s.bias_var[row] = math::exp_vectorizable(2.0f * w);
}

template <int L, int C>
__global__ void __launch_bounds__(kBlockThreads) row_kernel(const __grid_constant__ RowArgs a) {
  const int which = blockIdx.x < a.side[0].block_count ? 0 : 1;
  const RowSide& sa = a.side[which];
  const unsigned local_block = blockIdx.x - sa.block_begin;
  if (local_block == 0 && threadIdx.x == 0 && sa.list.reset != nullptr) *sa.list.reset = 0;
  constexpr int kGroups = kBlockThreads / L;
  const int lane = static_cast<int>(threadIdx.x) & (L - 1);
  const long long count = *sa.list.count;
  const long long step = static_cast<long long>(sa.block_count) * kGroups;
  for (long long slot = static_cast<long long>(local_block) * kGroups + threadIdx.x / L;
       slot < count; slot += step)
    update_row<L, C>(sa, a.up, sa.list.rows[slot], lane);
}

}  // namespace

void launch_entry_kernel(const SideView& users, const SideView& items, const BatchView& batch,
                         int parity, float mu0, cudaStream_t stream) {
  if (batch.count <= 0) return;
  const EntryArgs args{users, items, batch, parity, mu0};
  dispatch_lanes(lane_shape(users.stride), [&](auto lanes, auto chunks) {
    constexpr int L = decltype(lanes)::value, C = decltype(chunks)::value;
    const unsigned blocks = blocks_for(batch.count, L, 1LL << 31);
    entry_kernel<L, C><<<blocks, kBlockThreads, 0, stream>>>(args);
    PPMF_CUDA_CHECK_LAUNCH();
  });
}

void launch_row_kernel(const RowUpdate& update, const SideView& users, const RowList& user_rows,
                       const ExportView& user_out, const SideView& items, const RowList& item_rows,
                       const ExportView& item_out, int sm_count, cudaStream_t stream) {
  const LaneShape shape = lane_shape(users.stride);
  // Enough blocks for every row at once up to a few waves; beyond that the kernel loops.
  const long long cap = static_cast<long long>(sm_count > 0 ? sm_count : 132) * 8;
  RowArgs args{};
  args.up = update;
  args.side[0] = {users, user_rows, user_out, 0, blocks_for(user_rows.capacity, shape.lanes, cap)};
  args.side[1] = {items, item_rows, item_out, args.side[0].block_count,
                  blocks_for(item_rows.capacity, shape.lanes, cap)};
  const unsigned blocks = args.side[0].block_count + args.side[1].block_count;
  dispatch_lanes(shape, [&](auto lanes, auto chunks) {
    constexpr int L = decltype(lanes)::value, C = decltype(chunks)::value;
    row_kernel<L, C><<<blocks, kBlockThreads, 0, stream>>>(args);
    PPMF_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace ppmf::cuda
