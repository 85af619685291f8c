// Pair predictions and dense scoring of all items (see scoring.cuh).
#include <algorithm>
#include <vector>

#include "cuda_check.cuh"
#include "scoring.cuh"

namespace ppmf::cuda {
namespace {

unsigned grid_for(long long work) {
  const long long b = (work + 255) / 256;
  return static_cast<unsigned>(std::max<long long>(1, std::min<long long>(b, 65535)));
}

#define PPMF_GRID_STRIDE(k, n)                                                               \
  for (long long k = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; k < (n); \
       k += static_cast<long long>(gridDim.x) * blockDim.x)

__global__ void predict_kernel(SideView U, SideView V, const PairIndex* pairs, long long n,
                               float mu0, float sigma2, float* mean, float* var) {
  PPMF_GRID_STRIDE(k, n) {
    const int32_t u = pairs[k].user, i = pairs[k].item;
    float m, v;
    if (u < U.n && i < V.n)
      math::entry_moments(U.mean_of(u), U.var_of(u), V.mean_of(i), V.var_of(i), U.rank, m, v);
    else
      math::entry_moments_general(U.dist(u), V.dist(i), U.rank, m, v);
    mean[k] = mu0 + m;
    var[k] = v + sigma2;
  }
}

// Item j's operand rows: y1 = [n_j, 1, c_j, 0..], y2 = [t_j^2, n_j^2 + t_j^2, 1, q_j^2, 0..].
__global__ void item_operands(SideView V, int k1, int k2, float* y1, float* y2) {
  const int d = V.rank;
  PPMF_GRID_STRIDE(j, V.n) {
    const float* m = V.mean_of(static_cast<int32_t>(j));
    const float* t = V.var_of(static_cast<int32_t>(j));
    float* r1 = y1 + j * k1;
    float* r2 = y2 + j * k2;
    for (int k = 0; k < k1; ++k) r1[k] = k < d ? m[k] : (k == d ? 1.f : (k == d + 1 ? m[d] : 0.f));
    for (int k = 0; k < k2; ++k) {
      float x = 0.f;
      if (k < d) x = t[k];
      else if (k < 2 * d) x = m[k - d] * m[k - d] + t[k - d];
      else if (k == 2 * d) x = 1.f;
      else if (k == 2 * d + 1) x = t[d];
      r2[k] = x;
    }
  }
}

// User rows of a block (trained rows; prior rows get zeros and are overwritten later):
// x1 = [m_u, mu0 + a_u, 1, 0..], x2 = [m_u^2, s_u^2, sigma^2 + p_u^2, 1, 0..].
__global__ void user_operands(SideView U, const int32_t* users, long long nb, int k1, int k2,
                              float mu0, float sigma2, float* x1, float* x2) {
  const int d = U.rank;
  PPMF_GRID_STRIDE(b, nb) {
    const int32_t u = users[b];
    const bool trained = u < U.n;
    const float* m = trained ? U.mean_of(u) : nullptr;
    const float* s = trained ? U.var_of(u) : nullptr;
    float* r1 = x1 + b * k1;
    float* r2 = x2 + b * k2;
    for (int k = 0; k < k1; ++k)
      r1[k] = !trained ? 0.f : (k < d ? m[k] : (k == d ? mu0 + m[d] : (k == d + 1 ? 1.f : 0.f)));
    for (int k = 0; k < k2; ++k) {
      float x = 0.f;
      if (!trained) x = 0.f;
      else if (k < d) x = m[k] * m[k];
      else if (k < 2 * d) x = s[k - d];
      else if (k == 2 * d) x = sigma2 + s[d];
      else if (k == 2 * d + 1) x = 1.f;
      r2[k] = x;
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

int pad4(int k) {
  return (k + 3) & ~3;
}

}  // namespace

void predict_pairs(const SideView& users, const SideView& items, const PairIndex* pairs,
                   long long n, float mu0, float sigma2, float* mean, float* var,
                   cudaStream_t stream) {
  if (n <= 0) return;
  predict_kernel<<<grid_for(n), 256, 0, stream>>>(users, items, pairs, n, mu0, sigma2, mean, var);
  PPMF_CUDA_CHECK_LAUNCH("predict_kernel");
}

void score_all_items(cublasHandle_t handle, const SideView& users, const SideView& items, float mu0,
                     float sigma2, const int32_t* host_users, size_t n, float* host_mean,
                     float* host_var, ScoreScratch& scratch, size_t block_bytes,
                     cudaStream_t stream) {
  const size_t ni = static_cast<size_t>(items.n);
  if (n == 0 || ni == 0) return;
  const int d = users.rank, k1 = pad4(d + 2), k2 = pad4(2 * d + 2);
  scratch.item_mean_ops.ensure(ni * k1);
  scratch.item_var_ops.ensure(ni * k2);
  item_operands<<<grid_for(static_cast<long long>(ni)), 256, 0, stream>>>(
      items, k1, k2, scratch.item_mean_ops.data(), scratch.item_var_ops.data());
  PPMF_CUDA_CHECK_LAUNCH("item_operands");

  // Each distinct prior row among the users is scored once against every item.
  std::vector<int32_t> prior_rows;
  for (size_t u = 0; u < n; ++u)
    if (host_users[u] >= users.n &&
        std::find(prior_rows.begin(), prior_rows.end(), host_users[u]) == prior_rows.end())
      prior_rows.push_back(host_users[u]);
  if (!prior_rows.empty()) {
    std::vector<PairIndex> pairs;
    pairs.reserve(prior_rows.size() * ni);
    for (const int32_t r : prior_rows)
      for (size_t j = 0; j < ni; ++j) pairs.push_back({r, static_cast<int32_t>(j)});
    scratch.pairs.assign(pairs.data(), pairs.size(), stream);
    scratch.prior_mean.ensure(pairs.size());
    scratch.prior_var.ensure(pairs.size());
    predict_pairs(users, items, scratch.pairs.data(), static_cast<long long>(pairs.size()), mu0,
                  sigma2, scratch.prior_mean.data(), scratch.prior_var.data(), stream);
    PPMF_CUDA_CHECK(cudaStreamSynchronize(stream));  // `pairs` leaves scope
  }

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
    user_operands<<<grid_for(static_cast<long long>(nb)), 256, 0, stream>>>(
        users, scratch.users.data(), static_cast<long long>(nb), k1, k2, mu0, sigma2,
        scratch.user_mean_ops.data(), scratch.user_var_ops.data());
    PPMF_CUDA_CHECK_LAUNCH("user_operands");
    gemm_xyT(handle, scratch.user_mean_ops.data(), scratch.item_mean_ops.data(),
             static_cast<int>(nb), static_cast<int>(ni), k1, scratch.mean.data());
    gemm_xyT(handle, scratch.user_var_ops.data(), scratch.item_var_ops.data(), static_cast<int>(nb),
             static_cast<int>(ni), k2, scratch.var.data());
    for (size_t b = 0; b < nb; ++b) {
      const int32_t x = host_users[u0 + b];
      if (x < users.n) continue;
      const size_t r = static_cast<size_t>(
          std::find(prior_rows.begin(), prior_rows.end(), x) - prior_rows.begin());
      PPMF_CUDA_CHECK(cudaMemcpyAsync(scratch.mean.data() + b * ni,
                                      scratch.prior_mean.data() + r * ni, ni * sizeof(float),
                                      cudaMemcpyDeviceToDevice, stream));
      PPMF_CUDA_CHECK(cudaMemcpyAsync(scratch.var.data() + b * ni, scratch.prior_var.data() + r * ni,
                                      ni * sizeof(float), cudaMemcpyDeviceToDevice, stream));
    }
    PPMF_CUDA_CHECK(cudaMemcpyAsync(host_mean + u0 * ni, scratch.mean.data(),
                                    nb * ni * sizeof(float), cudaMemcpyDeviceToHost, stream));
    PPMF_CUDA_CHECK(cudaMemcpyAsync(host_var + u0 * ni, scratch.var.data(), nb * ni * sizeof(float),
                                    cudaMemcpyDeviceToHost, stream));
    PPMF_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
}

}  // namespace ppmf::cuda
