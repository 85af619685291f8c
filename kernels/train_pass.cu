// The full training pass on the GPU (see train_pass.cuh).
#include <vector>

#include "cuda_check.cuh"
#include "train_pass.cuh"

namespace ppmf::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kBlocks = 1024;  // fixed, so the partials are always summed in the same order

__device__ double block_sum(double v, double* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? shared[threadIdx.x] : 0.0;
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  __syncthreads();
  return v;
}

// A warp per user row; its lanes take the row's entries.
__global__ void __launch_bounds__(kThreads)
    sse_kernel(SideView U, SideView V, float mu0, double* partials) {
  __shared__ double shared[kThreads / 32];
  const int warps = gridDim.x * (kThreads / 32);
  const int warp = blockIdx.x * (kThreads / 32) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  double expected = 0, plain = 0;
  for (int i = warp; i < U.n; i += warps) {
    for (int64_t e = U.offsets[i] + lane; e < U.offsets[i + 1]; e += 32) {
      float mean, var;
      const int32_t j = U.other[e];
      math::entry_moments(U.mean_of(i), U.var_of(i), V.mean_of(j), V.var_of(j), U.rank, mean,
                          var);
      const float err = U.value[e] - mu0 - mean;
      expected += math::expected_sq_error(err, var);
      plain += static_cast<double>(err) * err;
    }
  }
  expected = block_sum(expected, shared);
  plain = block_sum(plain, shared);
  if (threadIdx.x == 0) {
    partials[2 * blockIdx.x] = expected;
    partials[2 * blockIdx.x + 1] = plain;
  }
}

// A thread per row with data.
__global__ void __launch_bounds__(kThreads) kl_kernel(SideView S, double* partials) {
  __shared__ double shared[kThreads / 32];
  double kl = 0;
  for (int i = blockIdx.x * kThreads + threadIdx.x; i < S.n; i += gridDim.x * kThreads) {
    if (S.count[i] == 0) continue;
    const size_t g = static_cast<size_t>(S.group[i]);
    kl += math::kl_to_prior(S.mean_of(i), S.var_of(i), S.prior_mean + g * S.dim,
                            S.prec + g * S.dim * S.dim, S.log_det_prec[g], S.dim);
  }
  kl = block_sum(kl, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = kl;
}

double add_in_order(const std::vector<double>& v, size_t offset, size_t stride) {
  double s = 0;
  for (size_t k = offset; k < v.size(); k += stride) s += v[k];
  return s;
}

}  // namespace

PassSums train_pass(const SideView& users, const SideView& items, float mu0,
                    DeviceBuffer<double>& partials, cudaStream_t stream) {
  partials.ensure(4 * kBlocks);
  double* p = partials.data();
  sse_kernel<<<kBlocks, kThreads, 0, stream>>>(users, items, mu0, p);
  PPMF_CUDA_CHECK_LAUNCH("sse_kernel");
  kl_kernel<<<kBlocks, kThreads, 0, stream>>>(users, p + 2 * kBlocks);
  PPMF_CUDA_CHECK_LAUNCH("kl_kernel (users)");
  kl_kernel<<<kBlocks, kThreads, 0, stream>>>(items, p + 3 * kBlocks);
  PPMF_CUDA_CHECK_LAUNCH("kl_kernel (items)");
  std::vector<double> host(4 * kBlocks);
  partials.download(host.data(), host.size(), stream);
  PassSums s;
  const std::vector<double> sse(host.begin(), host.begin() + 2 * kBlocks);
  s.sse_expected = add_in_order(sse, 0, 2);
  s.sse_mean = add_in_order(sse, 1, 2);
  s.kl_users = add_in_order(std::vector<double>(host.begin() + 2 * kBlocks, host.begin() + 3 * kBlocks), 0, 1);
  s.kl_items = add_in_order(std::vector<double>(host.begin() + 3 * kBlocks, host.end()), 0, 1);
  return s;
}

}  // namespace ppmf::cuda
