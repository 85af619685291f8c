// Group moments on the GPU (see pooling.cuh).
#include <thrust/copy.h>
#include <thrust/execution_policy.h>
#include <thrust/gather.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/sort.h>
#include <thrust/system/cuda/execution_policy.h>

#include <algorithm>
#include <exception>
#include <string>

#include "cuda_check.cuh"
#include "pooling.cuh"

namespace ppmf::cuda {
namespace {

constexpr long long kChunkMembers = 1 << 20;

struct HasData {
  __host__ __device__ bool operator()(int32_t count) const { return count > 0; }
};

// Thrust reports failures as exceptions of its own; they become ppmf::Error.
template <typename Fn>
auto thrust_call(const char* what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    throw Error(std::string("Thrust error in ") + what + ": " + e.what());
  }
}

// x[p] = mean row, v[p] = variance row of members[first + p] (dim doubles each).
__global__ void gather_members(SideView s, const int32_t* members, long long first, long long count,
                               double* x, double* v) {
  const long long total = count * s.dim;
  for (long long idx = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long p = idx / s.dim;
    const int k = static_cast<int>(idx - p * s.dim);
    const int32_t row = members[first + p];
    x[idx] = s.mean_of(row)[k];
    v[idx] = s.var_of(row)[k];
  }
}

__global__ void fill_ones(double* ones, long long n) {
  for (long long k = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<long long>(gridDim.x) * blockDim.x)
    ones[k] = 1.0;
}

unsigned grid_for(long long work) {
  const long long b = (work + 255) / 256;
  return static_cast<unsigned>(std::max<long long>(1, std::min<long long>(b, 65535)));
}

}  // namespace

void build_group_order(const SideView& side, GroupOrder& order, cudaStream_t stream) {
  order.members.resize(static_cast<size_t>(side.n));
  DeviceBuffer<int32_t> groups(static_cast<size_t>(std::max(side.n, 1)));
  long long m = 0;
  if (side.n > 0) {
    int32_t* members = order.members.data();
    int32_t* member_group = groups.data();
    m = thrust_call("group order", [&] {
      const auto policy = thrust::cuda::par.on(stream);
      const auto end = thrust::copy_if(policy, thrust::counting_iterator<int32_t>(0),
                                       thrust::counting_iterator<int32_t>(side.n), side.count,
                                       members, HasData{});
      const long long found = end - members;
      thrust::gather(policy, members, members + found, side.group, member_group);
      thrust::stable_sort_by_key(policy, member_group, member_group + found, members);
      return found;
    });
  }
  std::vector<int32_t> host(static_cast<size_t>(m));
  groups.download(host.data(), host.size(), stream);
  order.starts.assign(static_cast<size_t>(side.n_groups) + 1, m);
  for (long long p = m - 1; p >= 0; --p) order.starts[host[p]] = p;
  for (int g = side.n_groups - 1; g >= 0; --g)
    order.starts[g] = std::min(order.starts[g], order.starts[g + 1]);
  order.valid = true;
}

GroupMoments group_moments(cublasHandle_t handle, const SideView& side, const GroupOrder& order,
                           MomentScratch& scratch, cudaStream_t stream) {
  const int G = side.n_groups, dim = side.dim;
  GroupMoments gm;
  gm.reset(G, dim);
  const long long members = order.starts.empty() ? 0 : order.starts.back();
  if (G == 0 || members == 0) return gm;
  // Device sums per group: outer (dim x dim, column-major lower), mean (dim), var (dim).
  const size_t per_group = static_cast<size_t>(dim) * dim + 2 * dim;
  scratch.sums.ensure(per_group * G);
  scratch.sums.zero(stream);
  const long long chunk = std::min(members, kChunkMembers);
  scratch.x.ensure(static_cast<size_t>(chunk) * dim);
  scratch.v.ensure(static_cast<size_t>(chunk) * dim);
  scratch.ones.ensure(static_cast<size_t>(chunk));
  fill_ones<<<grid_for(chunk), 256, 0, stream>>>(scratch.ones.data(), chunk);
  PPMF_CUDA_CHECK_LAUNCH("fill_ones");
  const double one = 1.0;
  for (long long c0 = 0; c0 < members; c0 += chunk) {
    const long long c1 = std::min(members, c0 + chunk);
    gather_members<<<grid_for((c1 - c0) * dim), 256, 0, stream>>>(
        side, order.members.data(), c0, c1 - c0, scratch.x.data(), scratch.v.data());
    PPMF_CUDA_CHECK_LAUNCH("gather_members");
    for (int g = 0; g < G; ++g) {
      const long long b = std::max(order.starts[g], c0), e = std::min(order.starts[g + 1], c1);
      if (b >= e) continue;
      // The members' rows are the columns of a dim x k column-major matrix (ld = dim).
      const double* xg = scratch.x.data() + (b - c0) * dim;
      const double* vg = scratch.v.data() + (b - c0) * dim;
      double* out = scratch.sums.data() + per_group * g;
      const int k = static_cast<int>(e - b);
      PPMF_CUBLAS_CHECK(cublasDsyrk(handle, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, dim, k, &one, xg,
                                    dim, &one, out, dim));
      PPMF_CUBLAS_CHECK(cublasDgemv(handle, CUBLAS_OP_N, dim, k, &one, xg, dim,
                                    scratch.ones.data(), 1, &one, out + dim * dim, 1));
      PPMF_CUBLAS_CHECK(cublasDgemv(handle, CUBLAS_OP_N, dim, k, &one, vg, dim,
                                    scratch.ones.data(), 1, &one, out + dim * dim + dim, 1));
    }
  }
  std::vector<double> host(per_group * G);
  scratch.sums.download(host.data(), host.size(), stream);
  for (int g = 0; g < G; ++g) {
    const double* h = host.data() + per_group * g;
    gm.count[g] = static_cast<double>(order.starts[g + 1] - order.starts[g]);
    for (int a = 0; a < dim; ++a) {
      gm.sum_mean[static_cast<size_t>(g) * dim + a] = h[dim * dim + a];
      gm.sum_var[static_cast<size_t>(g) * dim + a] = h[dim * dim + dim + a];
      // Column-major lower (a >= r) holds sum x_a x_r; mirrored into the full row-major matrix.
      for (int r = 0; r <= a; ++r) {
        const double v = h[static_cast<size_t>(r) * dim + a];
        gm.sum_outer[(static_cast<size_t>(g) * dim + a) * dim + r] = v;
        gm.sum_outer[(static_cast<size_t>(g) * dim + r) * dim + a] = v;
      }
    }
  }
  return gm;
}

}  // namespace ppmf::cuda
