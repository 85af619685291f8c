// Pair predictions (lane-group kernel) and dense scoring of all items (cuBLAS SGEMM). See
// scoring.cuh; CPU twins: CpuBackend::predict, predict_one and score_all_items in
// host/cpu_backend.cpp.
#include <algorithm>

#include "cuda_check.cuh"
#include "lanes.cuh"
#include "scoring.cuh"

namespace ppmf::cuda {
namespace {

template <int L>
__global__ void __launch_bounds__(kBlockThreads)
    predict_kernel(SideView U, SideView V, const PairIndex* pairs, long long n, float mu0,
                   float sigma2, float* mean, float* var) {
  const long long t = (static_cast<long long>(blockIdx.x) * kBlockThreads + threadIdx.x) / L;
  const int lane = static_cast<int>(threadIdx.x) & (L - 1);
  const bool valid = t < n;
  const int32_t u = valid ? pairs[t].user : 0, i = valid ? pairs[t].item : 0;
  float dot = 0.f, fv = 0.f;
  if (valid) {
    const float* m = U.mean_row(u);
    const float* s2 = U.var_row(u);
    const float* nn = V.mean_row(i);
    const float* t2 = V.var_row(i);
    const int chunks = U.stride >> 2;
    for (int k4 = lane; k4 < chunks; k4 += L) {
      const int k0 = 4 * k4;
      const float4 a = mask4(load4(m + k0), k0, U.rank), b = mask4(load4(nn + k0), k0, U.rank);
      const float4 sa = mask4(load4(s2 + k0), k0, U.rank), tb = mask4(load4(t2 + k0), k0, U.rank);
      dot += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
      fv += math::factor_variance_term(a.x, sa.x, b.x, tb.x) +
            math::factor_variance_term(a.y, sa.y, b.y, tb.y) +
            math::factor_variance_term(a.z, sa.z, b.z, tb.z) +
            math::factor_variance_term(a.w, sa.w, b.w, tb.w);
    }
  }
  dot = group_sum<L>(dot);
  fv = group_sum<L>(fv);
  if (valid && lane == 0) {
    mean[t] = mu0 + U.bias_mean_of(u) + V.bias_mean_of(i) + dot;
    var[t] = fv + U.bias_var_of(u) + V.bias_var_of(i) + sigma2;
  }
}

#define PPMF_GRID_STRIDE(k, n)                                                               \
  for (long long k = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; k < (n); \
       k += static_cast<long long>(gridDim.x) * blockDim.x)

unsigned grid_for(long long work) {
  const long long b = (work + 255) / 256;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 ? 65535 : b));
}

// Item rows: y1 = [n_j, 1, c_j, 0, 0], y2 = [t_j^2, n_j^2 + t_j^2, 1, q_j^2, 0, 0].
__global__ void item_operands(SideView V, float* y1, float* y2) {
  const int s = V.stride, w1 = s + 4, w2 = 2 * s + 4;
  PPMF_GRID_STRIDE(idx, static_cast<long long>(V.n) * (s + 4)) {
    const long long j = idx / (s + 4);
    const int k = static_cast<int>(idx - j * (s + 4));
    float* r1 = y1 + j * w1;
    float* r2 = y2 + j * w2;
    if (k < s) {
      const bool in = k < V.rank;
      const float n = in ? V.mean[j * s + k] : 0.f, t2 = in ? V.var[j * s + k] : 0.f;
      r1[k] = n;
      r2[k] = t2;
      r2[s + k] = n * n + t2;
    } else {
      const int e = k - s;  // 0..3
      r1[k] = e == 0 ? 1.f : (e == 1 ? V.bias_mean[j] : 0.f);
      r2[2 * s + e] = e == 0 ? 1.f : (e == 1 ? V.bias_var[j] : 0.f);
    }
  }
}

// User rows of a block (extended indices): x1 = [m_u, mu0 + a_u, 1, 0, 0],
// x2 = [m_u^2, s_u^2, sigma^2 + p_u^2, 1, 0, 0].
__global__ void user_operands(SideView U, const int32_t* users, long long nb, float mu0,
                              float sigma2, float* x1, float* x2) {
  const int s = U.stride, w1 = s + 4, w2 = 2 * s + 4;
  PPMF_GRID_STRIDE(idx, nb * (s + 4)) {
    const long long b = idx / (s + 4);
    const int k = static_cast<int>(idx - b * (s + 4));
    const int32_t u = users[b];
    float* r1 = x1 + b * w1;
    float* r2 = x2 + b * w2;
    if (k < s) {
      const bool in = k < U.rank;
      const float m = in ? U.mean_row(u)[k] : 0.f, s2 = in ? U.var_row(u)[k] : 0.f;
      r1[k] = m;
      r2[k] = m * m;
      r2[s + k] = s2;
    } else {
      const int e = k - s;
      r1[k] = e == 0 ? mu0 + U.bias_mean_of(u) : (e == 1 ? 1.f : 0.f);
      r2[2 * s + e] = e == 0 ? sigma2 + U.bias_var_of(u) : (e == 1 ? 1.f : 0.f);
    }
  }
}

// C (row-major nb x ni) = X (nb x k) . Y (ni x k)^T, both row-major: in cuBLAS's column-major
// terms C^T = Y X^T with Y seen as k x ni (transposed) and X as k x nb.
void gemm_xyT(cublasHandle_t handle, const float* X, const float* Y, int nb, int ni, int k,
              float* C) {
  const float one = 1.f, zero = 0.f;
  PPMF_CUBLAS_CHECK(
      cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, ni, nb, k, &one, Y, k, X, k, &zero, C, ni));
}

}  // namespace

void predict_pairs(const SideView& users, const SideView& items, const PairIndex* pairs,
                   long long n, float mu0, float sigma2, float* mean, float* var,
                   cudaStream_t stream) {
  if (n <= 0) return;
  const LaneShape shape = lane_shape(users.stride);
  dispatch_lanes(LaneShape{shape.lanes, 1}, [&](auto lanes, auto) {
    constexpr int L = decltype(lanes)::value;
    predict_kernel<L><<<blocks_for(n, L, 1LL << 31), kBlockThreads, 0, stream>>>(
        users, items, pairs, n, mu0, sigma2, mean, var);
    PPMF_CUDA_CHECK_LAUNCH();
  });
}

void score_all_items(cublasHandle_t handle, const SideView& users, const SideView& items, float mu0,
                     float sigma2, const int32_t* host_users, size_t n, float* host_mean,
                     float* host_var, ScoreScratch& scratch, size_t block_bytes,
                     cudaStream_t stream) {
  const size_t ni = static_cast<size_t>(items.n);
  if (n == 0 || ni == 0) return;
  const int s = users.stride, k1 = s + 4, k2 = 2 * s + 4;
  scratch.item_mean_ops.ensure(ni * k1);
  scratch.item_var_ops.ensure(ni * k2);
  item_operands<<<grid_for(static_cast<long long>(ni) * k1), 256, 0, stream>>>(
      items, scratch.item_mean_ops.data(), scratch.item_var_ops.data());
  PPMF_CUDA_CHECK_LAUNCH();
  const size_t per_user = 2 * ni * sizeof(float);
  const size_t block = std::max<size_t>(1, std::min(n, block_bytes / per_user));
  scratch.users.ensure(block);
  scratch.user_mean_ops.ensure(block * k1);
  scratch.user_var_ops.ensure(block * k2);
  scratch.mean.ensure(block * ni);
  scratch.var.ensure(block * ni);
  for (size_t u0 = 0; u0 < n; u0 += block) {
    const size_t nb = std::min(block, n - u0);
    PPMF_CUDA_CHECK(cudaMemcpyAsync(scratch.users.data(), host_users + u0, nb * sizeof(int32_t),
                                    cudaMemcpyHostToDevice, stream));
    user_operands<<<grid_for(static_cast<long long>(nb) * k1), 256, 0, stream>>>(
        users, scratch.users.data(), static_cast<long long>(nb), mu0, sigma2,
        scratch.user_mean_ops.data(), scratch.user_var_ops.data());
    PPMF_CUDA_CHECK_LAUNCH();
    gemm_xyT(handle, scratch.user_mean_ops.data(), scratch.item_mean_ops.data(),
             static_cast<int>(nb), static_cast<int>(ni), k1, scratch.mean.data());
    gemm_xyT(handle, scratch.user_var_ops.data(), scratch.item_var_ops.data(), static_cast<int>(nb),
             static_cast<int>(ni), k2, scratch.var.data());
    PPMF_CUDA_CHECK(cudaMemcpyAsync(host_mean + u0 * ni, scratch.mean.data(),
                                    nb * ni * sizeof(float), cudaMemcpyDeviceToHost, stream));
    PPMF_CUDA_CHECK(cudaMemcpyAsync(host_var + u0 * ni, scratch.var.data(), nb * ni * sizeof(float),
                                    cudaMemcpyDeviceToHost, stream));
    PPMF_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
}

}  // namespace ppmf::cuda
