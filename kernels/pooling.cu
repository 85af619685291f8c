// Group moments by a segmented reduction over members sorted by group (Thrust for the order). See
// pooling.cuh; CPU twin: CpuBackend::group_moments in host/cpu_backend.cpp.
#include <thrust/copy.h>
#include <thrust/execution_policy.h>
#include <thrust/gather.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/sort.h>
#include <thrust/system/cuda/execution_policy.h>

#include <exception>
#include <string>

#include "cuda_check.cuh"
#include "pooling.cuh"

namespace ppmf::cuda {
namespace {

constexpr int kChunk = 256;  // members per block

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

// Output layout (doubles): count, bias_sum, bias_sum_sq, bias_sum_var (G each), then sum_mean,
// sum_sq_mean, sum_var (G * rank each).
struct SumsView {
  double *count, *bias_sum, *bias_sq, *bias_var, *sum, *sum_sq, *sum_var;
  int n_groups;
};

__device__ __forceinline__ void flush(const SumsView& out, int g, int c, int rank, double s1,
                                      double s2, double s3, double members) {
  if (g < 0 || g >= out.n_groups) return;
  if (c < rank) {
    const size_t at = static_cast<size_t>(g) * rank + c;
    atomicAdd(out.sum + at, s1);
    atomicAdd(out.sum_sq + at, s2);
    atomicAdd(out.sum_var + at, s3);
  } else {
    atomicAdd(out.count + g, members);
    atomicAdd(out.bias_sum + g, s1);
    atomicAdd(out.bias_sq + g, s2);
    atomicAdd(out.bias_var + g, s3);
  }
}

// Block b sums members [b * kChunk, (b + 1) * kChunk); thread column c in 0..rank (rank = the
// bias).
__global__ void group_sums(SideView s, const int32_t* __restrict__ members,
                           const int32_t* __restrict__ member_group, long long n_members,
                           SumsView out) {
  const long long p0 = static_cast<long long>(blockIdx.x) * kChunk;
  const long long p1 = p0 + kChunk < n_members ? p0 + kChunk : n_members;
  for (int c = threadIdx.x; c <= s.rank; c += blockDim.x) {
    int cur = -1;
    double s1 = 0, s2 = 0, s3 = 0, n = 0;
    for (long long p = p0; p < p1; ++p) {
      const int g = member_group[p];
      if (g != cur) {
        flush(out, cur, c, s.rank, s1, s2, s3, n);
        cur = g;
        s1 = s2 = s3 = n = 0;
      }
      const int32_t row = members[p];
      float x, v;
      if (c < s.rank) {
        const size_t at = static_cast<size_t>(row) * s.stride + c;
        x = s.mean[at];
        v = s.var[at];
      } else {
        x = s.bias_mean[row];
        v = s.bias_var[row];
      }
      s1 += x;
      s2 += static_cast<double>(x) * x;
      s3 += v;
      n += 1;
    }
    flush(out, cur, c, s.rank, s1, s2, s3, n);
  }
}

}  // namespace

long long build_active_rows(const int32_t* count, int n, int32_t* active, int32_t* active_count,
                            cudaStream_t stream) {
  int32_t found = 0;
  if (n > 0) {
    found = thrust_call("copy_if (rows with data)", [&] {
      const auto end =
          thrust::copy_if(thrust::cuda::par.on(stream), thrust::counting_iterator<int32_t>(0),
                          thrust::counting_iterator<int32_t>(n), count, active, HasData{});
      return static_cast<int32_t>(end - active);
    });
  }
  PPMF_CUDA_CHECK(
      cudaMemcpyAsync(active_count, &found, sizeof(int32_t), cudaMemcpyHostToDevice, stream));
  PPMF_CUDA_CHECK(cudaStreamSynchronize(stream));  // `found` lives on this stack frame
  return found;
}

void build_group_order(const SideView& side, GroupOrder& order, cudaStream_t stream) {
  order.members.resize(static_cast<size_t>(side.n));
  order.member_group.resize(static_cast<size_t>(side.n));
  order.n_members = 0;
  if (side.n > 0) {
    int32_t* members = order.members.data();
    int32_t* groups = order.member_group.data();
    order.n_members = thrust_call("group order", [&] {
      const auto policy = thrust::cuda::par.on(stream);
      const auto end = thrust::copy_if(policy, thrust::counting_iterator<int32_t>(0),
                                       thrust::counting_iterator<int32_t>(side.n), side.count,
                                       members, HasData{});
      const long long m = end - members;
      thrust::gather(policy, members, members + m, side.group, groups);
      thrust::stable_sort_by_key(policy, groups, groups + m, members);
      return m;
    });
  }
  order.valid = true;
}

GroupMoments group_moments(const SideView& side, const GroupOrder& order,
                           DeviceBuffer<double>& sums, cudaStream_t stream) {
  const int G = side.n_groups, d = side.rank;
  GroupMoments gm;
  gm.reset(G, d);
  if (G == 0) return gm;
  const size_t per_group = 4 + 3 * static_cast<size_t>(d);
  sums.ensure(per_group * G);
  sums.zero(stream);
  double* base = sums.data();
  const SumsView view{base,
                      base + G,
                      base + 2 * G,
                      base + 3 * G,
                      base + 4 * G,
                      base + 4 * G + static_cast<size_t>(G) * d,
                      base + 4 * G + 2 * static_cast<size_t>(G) * d,
                      G};
  if (order.n_members > 0) {
    const long long blocks = (order.n_members + kChunk - 1) / kChunk;
    const int threads = ((d + 1 + 31) / 32) * 32 > 256 ? 256 : ((d + 1 + 31) / 32) * 32;
    group_sums<<<static_cast<unsigned>(blocks), threads, 0, stream>>>(
        side, order.members.data(), order.member_group.data(), order.n_members, view);
    PPMF_CUDA_CHECK_LAUNCH();
  }
  std::vector<double> host(per_group * G);
  sums.download(host.data(), host.size(), stream);
  const double* h = host.data();
  gm.count.assign(h, h + G);
  gm.bias_sum.assign(h + G, h + 2 * G);
  gm.bias_sum_sq.assign(h + 2 * G, h + 3 * G);
  gm.bias_sum_var.assign(h + 3 * G, h + 4 * G);
  const size_t gd = static_cast<size_t>(G) * d;
  gm.sum_mean.assign(h + 4 * G, h + 4 * G + gd);
  gm.sum_sq_mean.assign(h + 4 * G + gd, h + 4 * G + 2 * gd);
  gm.sum_var.assign(h + 4 * G + 2 * gd, h + 4 * G + 3 * gd);
  return gm;
}

}  // namespace ppmf::cuda
