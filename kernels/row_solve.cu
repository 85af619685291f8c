// The exact row solves on the GPU (see row_solve.cuh).
#include <algorithm>

#include "cuda_check.cuh"
#include "row_solve.cuh"

namespace ppmf::cuda {
namespace {

constexpr int kSolveThreads = 128;
constexpr int kStage = 32;  // entries staged in shared memory per round

struct SolveArgs {
  SideView s, o;
  int begin, end;
  float mu0;
  double inv_sigma2;
  int* failed;
  double* global_p;  // nullptr: P in shared memory; else one dim x dim slab per block
  // Implicit zeros (zero_weight > 0): the entries' values are confidences, and zero_weight times
  // the background (bg_p, lower triangle, and bg_b) joins every row's prior.
  float zero_weight;
  const double *bg_p, *bg_b;
  // Distributed training (Backend::row_statistics / solve_rows_from), stat_len doubles per row
  // from `begin`: stats_out receives each row's count and accumulated sums instead of a solve;
  // stats_in replaces the accumulation by sums given (rows of count 0 are skipped).
  double* stats_out;
  const double* stats_in;
  int stat_len;
};

// Cell c of a lower triangle enumerated row by row ((0,0), (1,0), (1,1), (2,0), ...) -> (r, col).
__device__ __forceinline__ void triangle_cell(int c, int& r, int& col) {
  r = static_cast<int>((sqrtf(8.f * static_cast<float>(c) + 1.f) - 1.f) * 0.5f);
  while (r * (r + 1) / 2 > c) --r;
  while ((r + 1) * (r + 2) / 2 <= c) ++r;
  col = c - r * (r + 1) / 2;
}

__global__ void __launch_bounds__(kSolveThreads) solve_kernel(SolveArgs a) {
  extern __shared__ double smem[];
  __shared__ int bad;
  const int dim = a.s.dim, rank = a.s.rank, ld = a.s.stride;
  const bool shared_p = a.global_p == nullptr;
  double* P = shared_p ? smem : a.global_p + static_cast<size_t>(blockIdx.x) * dim * dim;
  double* b = shared_p ? smem + dim * dim : smem;
  float* W = reinterpret_cast<float*>(b + dim);  // kStage rows: [v_mean; 1]
  float* V = W + kStage * ld;                    // kStage rows: [v_var; 0]
  float* T = V + kStage * ld;                    // kStage targets
  const int tid = threadIdx.x, nt = blockDim.x;
  const int cells = dim * (dim + 1) / 2;

  for (int row = a.begin + blockIdx.x; row < a.end; row += gridDim.x) {
    const int64_t e0 = a.s.offsets[row], e1 = a.s.offsets[row + 1];
    const size_t at = static_cast<size_t>(row - a.begin) * a.stat_len;
    // No data: the row keeps its guide (the same decision for the whole block).
    if (a.stats_in != nullptr ? a.stats_in[at] == 0.0 : e0 == e1 && a.stats_out == nullptr) continue;
    for (int c = tid; c < dim * dim; c += nt) P[c] = 0.0;
    for (int k = tid; k < dim; k += nt) b[k] = 0.0;
    __syncthreads();
    if (a.stats_in != nullptr) {  // sums over every rank, packed as RowSolver::packed_totals
      for (int c = tid; c < cells; c += nt) {
        int r, col;
        triangle_cell(c, r, col);
        P[r * dim + col] = a.stats_in[at + 1 + c];
      }
      for (int k = tid; k < dim; k += nt) b[k] = a.stats_in[at + 1 + cells + k];
      __syncthreads();
    }

    // 1. Accumulate sum_e E[w w^T] (lower triangle) and sum_e t_e w_e.
    for (int64_t base = a.stats_in != nullptr ? e1 : e0; base < e1; base += kStage) {
      const int m = static_cast<int>(e1 - base < kStage ? e1 - base : kStage);
      for (int idx = tid; idx < m * dim; idx += nt) {
        const int e = idx / dim, k = idx - e * dim;
        const int32_t j = a.s.other[base + e];
        const float* ym = a.o.mean_of(j);
        // A weighted entry (implicit zeros) is staged scaled by sqrt(weight), as the CPU's
        // RowSolver::add with a weight does.
        const float value = a.s.value[base + e];
        const float weight = a.zero_weight > 0.f ? math::implicit_weight(value, a.zero_weight) : 1.f;
        const float root = sqrtf(weight);
        W[e * ld + k] = root * (k < rank ? ym[k] : 1.f);
        V[e * ld + k] = weight * (k < rank ? a.o.var_of(j)[k] : 0.f);
        if (k == rank)
          T[e] = root * (a.zero_weight > 0.f
                             ? math::solve_target(math::implicit_value(value, a.zero_weight), 0.f,
                                                  ym[rank])
                             : math::solve_target(value, a.mu0, ym[rank]));
      }
      __syncthreads();
      for (int c = tid; c < cells; c += nt) {
        int r, col;
        triangle_cell(c, r, col);
        double acc = P[r * dim + col];
        for (int e = 0; e < m; ++e) acc += static_cast<double>(W[e * ld + r] * W[e * ld + col]);
        if (r == col)
          for (int e = 0; e < m; ++e) acc += V[e * ld + r];
        P[r * dim + col] = acc;
      }
      for (int k = tid; k < dim; k += nt) {
        double acc = b[k];
        for (int e = 0; e < m; ++e) acc += static_cast<double>(T[e] * W[e * ld + k]);
        b[k] = acc;
      }
      __syncthreads();
    }

    if (a.stats_out != nullptr) {  // this rank's sums, to be added over the ranks
      for (int c = tid; c < cells; c += nt) {
        int r, col;
        triangle_cell(c, r, col);
        a.stats_out[at + 1 + c] = P[r * dim + col];
      }
      for (int k = tid; k < dim; k += nt) a.stats_out[at + 1 + cells + k] = b[k];
      if (tid == 0) a.stats_out[at] = static_cast<double>(e1 - e0);
      __syncthreads();
      continue;
    }

    // 2. Add the group prior: P = P0 + P / sigma^2, b = P0 M + b / sigma^2.
    const size_t g = static_cast<size_t>(a.s.group[row]);
    const double* P0 = a.s.prec + g * dim * dim;
    for (int c = tid; c < dim * dim; c += nt) {
      const int r = c / dim, col = c - r * dim;
      if (col <= r)
        P[c] = P[c] * a.inv_sigma2 + P0[c] + (a.bg_p ? a.zero_weight * a.bg_p[c] : 0.0);
    }
    for (int k = tid; k < dim; k += nt)
      b[k] = b[k] * a.inv_sigma2 + a.s.prec_mean[g * dim + k] +
             (a.bg_b ? a.zero_weight * a.bg_b[k] : 0.0);
    if (tid == 0) bad = 0;
    __syncthreads();

    // 3. Cholesky P = L L^T in the lower triangle.
    for (int j = 0; j < dim; ++j) {
      if (tid == 0) {
        double d = P[j * dim + j];
        if (!(d > 0.0) || !isfinite(d)) {
          bad = 1;
          d = 1.0;  // carry on without NaNs; the row is not written
        }
        P[j * dim + j] = sqrt(d);
      }
      __syncthreads();
      const double djj = P[j * dim + j];
      for (int i = j + 1 + tid; i < dim; i += nt) P[i * dim + j] /= djj;
      __syncthreads();
      const int rest = dim - j - 1;
      for (int c = tid; c < rest * (rest + 1) / 2; c += nt) {
        int r, col;
        triangle_cell(c, r, col);
        const int i = j + 1 + r, k = j + 1 + col;
        P[i * dim + k] -= P[i * dim + j] * P[k * dim + j];
      }
      __syncthreads();
    }

    // 4. L y = b, then L^T x = y, in b.
    for (int j = 0; j < dim; ++j) {
      if (tid == 0) b[j] /= P[j * dim + j];
      __syncthreads();
      for (int i = j + 1 + tid; i < dim; i += nt) b[i] -= P[i * dim + j] * b[j];
      __syncthreads();
    }
    for (int j = dim - 1; j >= 0; --j) {
      if (tid == 0) b[j] /= P[j * dim + j];
      __syncthreads();
      for (int i = tid; i < j; i += nt) b[i] -= P[j * dim + i] * b[j];
      __syncthreads();
    }

    // 5-6. Column c of L^-1 (W[r][c], r >= c; W[r][c] kept at P[c][r] for r > c), the variance
    // sum_r W[r][c]^2, and the row written back.
    if (bad) {
      if (tid == 0) atomicExch(a.failed, 1);
    } else {
      float* mean = a.s.mean_of(row);
      float* var = a.s.var_of(row);
      float* logsd = a.s.logsd + static_cast<size_t>(row) * a.s.stride;
      for (int c = tid; c < dim; c += nt) {
        const double wcc = 1.0 / P[c * dim + c];
        double sum = wcc * wcc;
        for (int r = c + 1; r < dim; ++r) {
          double acc = P[r * dim + c] * wcc;
          for (int k = c + 1; k < r; ++k) acc += P[r * dim + k] * P[c * dim + k];
          const double w = -acc / P[r * dim + r];
          P[c * dim + r] = w;
          sum += w * w;
        }
        const float w = math::clamp_logsd(0.5f * logf(static_cast<float>(sum)));
        mean[c] = static_cast<float>(b[c]);
        logsd[c] = w;
        var[c] = expf(2.0f * w);
      }
    }
    __syncthreads();  // P and b are reused by the next row
  }
}

// The implicit zeros' background (CPU twin: sum_side_as_zeros in host/row_solver.hpp): block b
// sums the lower triangle of sum_j E[w_j w_j^T] and sum_j (0 - beta_j) w_j over its chunks of
// kStage rows into its own slab (dim * dim + dim doubles); sum_slabs then adds the slabs in block
// order, so the result does not depend on timing.
__global__ void __launch_bounds__(kSolveThreads) background_kernel(SideView o, double* slabs) {
  extern __shared__ float staged[];
  const int dim = o.dim, rank = o.rank, ld = o.stride;
  float* W = staged;          // kStage rows: [v_mean; 1]
  float* V = W + kStage * ld;  // kStage rows: [v_var; 0]
  float* T = V + kStage * ld;  // kStage targets: 0 - beta
  double* P = slabs + static_cast<size_t>(blockIdx.x) * (dim * dim + dim);
  double* b = P + dim * dim;
  const int tid = threadIdx.x, nt = blockDim.x;
  const int cells = dim * (dim + 1) / 2;
  for (int c = tid; c < dim * dim + dim; c += nt) P[c] = 0.0;
  const int chunks = (o.n + kStage - 1) / kStage;
  for (int chunk = blockIdx.x; chunk < chunks; chunk += gridDim.x) {
    const int base = chunk * kStage;
    const int m = o.n - base < kStage ? o.n - base : kStage;
    for (int idx = tid; idx < m * dim; idx += nt) {
      const int e = idx / dim, k = idx - e * dim;
      const float* ym = o.mean_of(base + e);
      W[e * ld + k] = k < rank ? ym[k] : 1.f;
      V[e * ld + k] = k < rank ? o.var_of(base + e)[k] : 0.f;
      if (k == rank) T[e] = math::solve_target(0.f, 0.f, ym[rank]);
    }
    __syncthreads();
    for (int c = tid; c < cells; c += nt) {
      int r, col;
      triangle_cell(c, r, col);
      double acc = 0.0;
      for (int e = 0; e < m; ++e) acc += static_cast<double>(W[e * ld + r] * W[e * ld + col]);
      if (r == col)
        for (int e = 0; e < m; ++e) acc += V[e * ld + r];
      P[r * dim + col] += acc;
    }
    for (int k = tid; k < dim; k += nt) {
      double acc = 0.0;
      for (int e = 0; e < m; ++e) acc += static_cast<double>(T[e] * W[e * ld + k]);
      b[k] += acc;
    }
    __syncthreads();
  }
}

__global__ void sum_slabs(const double* slabs, int slab_count, int len, double* out) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < len; i += gridDim.x * blockDim.x) {
    double s = 0.0;
    for (int k = 0; k < slab_count; ++k) s += slabs[static_cast<size_t>(k) * len + i];
    out[i] = s;
  }
}

// A guide row range to and from the packed layout of Backend::get_rows / set_rows.
__global__ void pack_rows_kernel(SideView s, int begin, int end, float* out) {
  const int dim = s.dim;
  const long long n = static_cast<long long>(end - begin) * dim;
  for (long long x = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; x < n;
       x += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int row = begin + static_cast<int>(x / dim), k = static_cast<int>(x % dim);
    float* o = out + static_cast<size_t>(row - begin) * 2 * dim;
    o[k] = s.mean_of(row)[k];
    o[dim + k] = s.logsd[static_cast<size_t>(row) * s.stride + k];
  }
}

__global__ void unpack_rows_kernel(SideView s, int begin, int end, const float* in) {
  const int dim = s.dim;
  const long long n = static_cast<long long>(end - begin) * dim;
  for (long long x = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; x < n;
       x += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int row = begin + static_cast<int>(x / dim), k = static_cast<int>(x % dim);
    const float* r = in + static_cast<size_t>(row - begin) * 2 * dim;
    const float w = r[dim + k];
    s.mean_of(row)[k] = r[k];
    s.logsd[static_cast<size_t>(row) * s.stride + k] = w;
    s.var_of(row)[k] = expf(2.0f * w);  // as solve_kernel writes it
  }
}

}  // namespace

void pack_rows(const SideView& side, int begin, int end, float* out, cudaStream_t stream) {
  if (begin >= end) return;
  const long long n = static_cast<long long>(end - begin) * side.dim;
  pack_rows_kernel<<<static_cast<unsigned>(std::min<long long>((n + 255) / 256, 4096)), 256, 0,
                     stream>>>(side, begin, end, out);
  PPMF_CUDA_CHECK_LAUNCH("pack_rows_kernel");
}

void unpack_rows(const SideView& side, int begin, int end, const float* in, cudaStream_t stream) {
  if (begin >= end) return;
  const long long n = static_cast<long long>(end - begin) * side.dim;
  unpack_rows_kernel<<<static_cast<unsigned>(std::min<long long>((n + 255) / 256, 4096)), 256, 0,
                       stream>>>(side, begin, end, in);
  PPMF_CUDA_CHECK_LAUNCH("unpack_rows_kernel");
}

void implicit_background(const SideView& other, DeviceBuffer<double>& out,
                         DeviceBuffer<double>& scratch, int sm_count, cudaStream_t stream) {
  const int dim = other.dim, len = dim * dim + dim;
  const int chunks = (other.n + kStage - 1) / kStage;
  // At most 256 MB of slabs.
  long long blocks = std::min<long long>(std::max(chunks, 1), static_cast<long long>(sm_count) * 4);
  blocks = std::max<long long>(1, std::min<long long>(blocks, (1LL << 28) / (len * 8LL)));
  scratch.ensure(static_cast<size_t>(blocks) * len);
  out.ensure(static_cast<size_t>(len));
  const size_t smem = (2 * static_cast<size_t>(kStage) * other.stride + kStage) * sizeof(float);
  PPMF_CUDA_CHECK(cudaFuncSetAttribute(background_kernel,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(smem)));
  background_kernel<<<static_cast<unsigned>(blocks), kSolveThreads, smem, stream>>>(
      other, scratch.data());
  PPMF_CUDA_CHECK_LAUNCH("background_kernel");
  sum_slabs<<<static_cast<unsigned>((len + 255) / 256), 256, 0, stream>>>(
      scratch.data(), static_cast<int>(blocks), len, out.data());
  PPMF_CUDA_CHECK_LAUNCH("sum_slabs");
}

void solve_rows(const SideView& side, const SideView& other, int begin, int end, float mu0,
                float sigma2, int* failed, DeviceBuffer<double>& scratch, int sm_count,
                size_t max_shared_bytes, cudaStream_t stream, float zero_weight,
                const double* background, double* stats_out, const double* stats_in) {
  if (begin >= end) return;
  const int dim = side.dim;
  const size_t p_bytes = static_cast<size_t>(dim) * dim * sizeof(double);
  const size_t rest = dim * sizeof(double) +
                      (2 * static_cast<size_t>(kStage) * side.stride + kStage) * sizeof(float);
  // A quarter of the shared memory is left to the static array and to a second resident block.
  const bool shared_p = p_bytes + rest <= max_shared_bytes * 3 / 4;
  const size_t smem = (shared_p ? p_bytes : 0) + rest;
  // Enough blocks to fill the device several times over; with P in global memory, at most 1 GB
  // of slabs.
  long long blocks = std::min<long long>(end - begin, static_cast<long long>(sm_count) * 8);
  if (!shared_p) blocks = std::max<long long>(1, std::min<long long>(blocks, (1LL << 30) / p_bytes));
  if (!shared_p) scratch.ensure(static_cast<size_t>(blocks) * dim * dim);
  PPMF_CUDA_CHECK(cudaFuncSetAttribute(solve_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(smem)));
  const int dim2 = side.dim * side.dim;
  SolveArgs args{side,
                 other,
                 begin,
                 end,
                 mu0,
                 1.0 / sigma2,
                 failed,
                 shared_p ? nullptr : scratch.data(),
                 background != nullptr || stats_out != nullptr ? zero_weight : 0.f,
                 background,
                 background != nullptr ? background + dim2 : nullptr,
                 stats_out,
                 stats_in,
                 static_cast<int>(row_statistics_size(side.rank))};
  solve_kernel<<<static_cast<unsigned>(blocks), kSolveThreads, smem, stream>>>(args);
  PPMF_CUDA_CHECK_LAUNCH("solve_kernel");
}

}  // namespace ppmf::cuda
