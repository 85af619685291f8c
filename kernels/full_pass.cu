// cuSPARSE SDDMM / SpMM full passes: the training-set sums of train_pass and the full-batch
// likelihood gradient. See full_pass.cuh; CPU twins: CpuBackend::train_pass, side_kl,
// accumulate_batch and run_phase in host/cpu_backend.cpp.
#include <cusparse.h>

#include "cuda_check.cuh"
#include "full_pass.cuh"
#include "ppmf/entry_math.hpp"

namespace ppmf::cuda {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(long long work, long long cap = 65535) {
  long long b = (work + kThreads - 1) / kThreads;
  if (b < 1) b = 1;
  if (b > cap) b = cap;
  return static_cast<unsigned>(b);
}

#define PPMF_GRID_STRIDE(k, n)                                                               \
  for (long long k = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; k < (n); \
       k += static_cast<long long>(gridDim.x) * blockDim.x)

// The cuSPARSE workspace, grown when a call needs more; the stream is drained first because earlier
// calls may still be using the old buffer.
void* workspace_for(DeviceBuffer<unsigned char>& ws, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) bytes = 1;
  if (bytes > ws.size()) {
    PPMF_CUDA_CHECK(cudaStreamSynchronize(stream));
    ws.resize(bytes);
  }
  return ws.data();
}

// ---- cuSPARSE descriptors (RAII) ----

class DenseMatrix {
 public:
  // rows x cols, row-major with leading dimension ld (or, with column_major, cols stored as rows).
  DenseMatrix(int64_t rows, int64_t cols, int64_t ld, const float* data,
              bool column_major = false) {
    PPMF_CUSPARSE_CHECK(
        cusparseCreateDnMat(&d_, rows, cols, ld, const_cast<float*>(data), CUDA_R_32F,
                            column_major ? CUSPARSE_ORDER_COL : CUSPARSE_ORDER_ROW));
  }
  ~DenseMatrix() {
    if (d_ != nullptr) PPMF_CUSPARSE_CHECK_NOEXCEPT(cusparseDestroyDnMat(d_));
  }
  DenseMatrix(const DenseMatrix&) = delete;
  DenseMatrix& operator=(const DenseMatrix&) = delete;
  cusparseDnMatDescr_t get() const { return d_; }

 private:
  cusparseDnMatDescr_t d_ = nullptr;
};

class CsrMatrix {
 public:
  CsrMatrix(const CsrView& v, long long nnz, const float* values) {
    PPMF_CUSPARSE_CHECK(cusparseCreateCsr(&d_, v.rows, v.cols, nnz, const_cast<int32_t*>(v.row_ptr),
                                          const_cast<int32_t*>(v.col), const_cast<float*>(values),
                                          CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                          CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
  }
  ~CsrMatrix() {
    if (d_ != nullptr) PPMF_CUSPARSE_CHECK_NOEXCEPT(cusparseDestroySpMat(d_));
  }
  CsrMatrix(const CsrMatrix&) = delete;
  CsrMatrix& operator=(const CsrMatrix&) = delete;
  cusparseSpMatDescr_t get() const { return d_; }

 private:
  cusparseSpMatDescr_t d_ = nullptr;
};

// out[p] = A_row(p) . B_col(p) at the pattern of `pattern` (values written to `out`), where A is
// rows x k and B is cols x k, both row-major with leading dimension ld. op(B) = B^T is described to
// cuSPARSE as B's memory seen column-major (k x cols, no transpose), the layout PyTorch's
// sampled_addmm uses; should a cuSPARSE build reject that mix of orders (bufferSize says
// NOT_SUPPORTED), the same product is asked for as row-major B with op(B) = TRANSPOSE.
void sddmm(cusparseHandle_t handle, const CsrView& pattern, long long nnz, const float* A,
           const float* B, int k, int ld, float* out, DeviceBuffer<unsigned char>& workspace,
           cudaStream_t stream) {
  static int layout =
      0;  // 0: B column-major view; 1: B row-major, transposed (chosen once, per process)
  PPMF_CUDA_CHECK(cudaMemsetAsync(out, 0, static_cast<size_t>(nnz) * sizeof(float), stream));
  const float one = 1.f, zero = 0.f;
  DenseMatrix a(pattern.rows, k, ld, A);
  CsrMatrix c(pattern, nnz, out);
  for (;;) {
    const bool col_view = layout == 0;
    const DenseMatrix b(col_view ? k : pattern.cols, col_view ? pattern.cols : k, ld, B,
                        /*column_major=*/col_view);
    const cusparseOperation_t op_b =
        col_view ? CUSPARSE_OPERATION_NON_TRANSPOSE : CUSPARSE_OPERATION_TRANSPOSE;
    size_t bytes = 0;
    const cusparseStatus_t st = cusparseSDDMM_bufferSize(
        handle, CUSPARSE_OPERATION_NON_TRANSPOSE, op_b, &one, a.get(), b.get(), &zero, c.get(),
        CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, &bytes);
    if (st == CUSPARSE_STATUS_NOT_SUPPORTED && layout == 0) {
      layout = 1;
      continue;
    }
    PPMF_CUSPARSE_CHECK(st);
    void* buffer = workspace_for(workspace, bytes, stream);
    const cusparseStatus_t run = cusparseSDDMM(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, op_b, &one,
                                               a.get(), b.get(), &zero, c.get(), CUDA_R_32F,
                                               CUSPARSE_SDDMM_ALG_DEFAULT, buffer);
    if (run == CUSPARSE_STATUS_NOT_SUPPORTED && layout == 0) {  // some builds refuse only here
      layout = 1;
      continue;
    }
    PPMF_CUSPARSE_CHECK(run);
    return;
  }
}

// C = S B: S the sparse matrix (pattern with `values`), B pattern.cols x width row-major (ld), C
// pattern.rows x width row-major (ld).
void spmm(cusparseHandle_t handle, const CsrView& pattern, long long nnz, const float* values,
          const float* B, int width, int ld, float* C, DeviceBuffer<unsigned char>& workspace,
          cudaStream_t stream) {
  CsrMatrix s(pattern, nnz, values);
  DenseMatrix b(pattern.cols, width, ld, B);
  DenseMatrix c(pattern.rows, width, ld, C);
  const float one = 1.f, zero = 0.f;
  size_t bytes = 0;
  PPMF_CUSPARSE_CHECK(cusparseSpMM_bufferSize(
      handle, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, s.get(),
      b.get(), &zero, c.get(), CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &bytes));
  void* buffer = workspace_for(workspace, bytes, stream);
  PPMF_CUSPARSE_CHECK(cusparseSpMM(handle, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                   CUSPARSE_OPERATION_NON_TRANSPOSE, &one, s.get(), b.get(), &zero,
                                   c.get(), CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, buffer));
}

// ---- dense operands ----

enum class Pair : int {
  kSquaresAndVar = 0,   // [m o m, s^2]      (own side of the variance product; P^T [M o M, S^2])
  kVarAndSecondMoment,  // [t^2, n o n + t^2] (other side; P [T^2, N o N + T^2])
};

// out row r = the pair of row r of s, 2 * stride wide (padding columns 0).
__global__ void build_pair(SideView s, Pair which, float* out) {
  const long long width = s.stride;
  PPMF_GRID_STRIDE(idx, static_cast<long long>(s.n) * width) {
    const long long row = idx / width;
    const int k = static_cast<int>(idx - row * width);
    const float m = s.mean[idx], v = s.var[idx];
    float first = 0.f, second = 0.f;
    if (k < s.rank) {
      first = which == Pair::kSquaresAndVar ? m * m : v;
      second = which == Pair::kSquaresAndVar ? v : m * m + v;
    }
    out[row * 2 * width + k] = first;
    out[row * 2 * width + width + k] = second;
  }
}

// out row r = [mean_r, 1, 0, 0, 0] (stride + 4 wide): E [M, 1] gives the factor and bias sums.
__global__ void build_mean_ones(SideView s, float* out) {
  const long long width = s.stride + 4;
  PPMF_GRID_STRIDE(idx, static_cast<long long>(s.n) * width) {
    const long long row = idx / width;
    const int k = static_cast<int>(idx - row * width);
    out[idx] = k < s.stride ? (k < s.rank ? s.mean[row * s.stride + k] : 0.f)
                            : (k == s.stride ? 1.f : 0.f);
  }
}

__global__ void fill(float* out, float v, long long n) {
  PPMF_GRID_STRIDE(k, n) out[k] = v;
}

// e at every user-major position, in place over the SDDMM products (CPU: accumulate_row's e).
__global__ void residuals(TrainingView d, SideView users, SideView items, float mu0,
                          float* dot_then_e) {
  PPMF_GRID_STRIDE(p, d.nnz) {
    const int32_t i = d.user_of[p], j = d.by_user.col[p];
    dot_then_e[p] = d.value[p] - mu0 - users.bias_mean[i] - items.bias_mean[j] - dot_then_e[p];
  }
}

__global__ void gather_item_major(TrainingView d, const float* user_major, float* item_major) {
  PPMF_GRID_STRIDE(q, d.nnz) item_major[q] = user_major[d.user_pos[q]];
}

// Accumulators of rows with data from the SpMM products: c1 = E [X, 1] (stride + 4 wide),
// c2 = P [pair] (2 stride wide). `user_side`: the pair is [T^2, N o N + T^2]; else [M o M, S^2].
__global__ void assemble(SideView s, bool user_side, const float* c1, const float* c2) {
  const long long width = s.stride + 1;  // stride factor columns, then the bias / occurrence column
  PPMF_GRID_STRIDE(idx, static_cast<long long>(s.n) * width) {
    const long long row = idx / width;
    const int k = static_cast<int>(idx - row * width);
    const int32_t cnt = s.count[row];
    if (cnt == 0) continue;
    const float* r1 = c1 + row * (s.stride + 4);
    if (k == s.stride) {
      s.g_bias[row] = r1[s.stride];
      s.occ[row] = cnt;
      continue;
    }
    if (k >= s.rank) continue;
    const float* r2 = c2 + row * 2 * s.stride;
    const size_t at = static_cast<size_t>(row) * s.stride + k;
    if (user_side) {
      s.g_mean[at] = r1[k] - s.mean[at] * r2[k];
      s.g_logsd[at] = -s.var[at] * r2[s.stride + k];
    } else {
      s.g_mean[at] = r1[k] - s.mean[at] * r2[s.stride + k];
      s.g_logsd[at] = -s.var[at] * (r2[k] + r2[s.stride + k]);
    }
  }
}

// ---- reductions ----

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

// Block sum of v into out (thread 0); blockDim.x == kThreads.
__device__ __forceinline__ void block_sum(double v, double* out) {
  __shared__ double part[kThreads / 32];
  v = warp_sum(v);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    v = threadIdx.x < kThreads / 32 ? part[threadIdx.x] : 0.0;
    v = warp_sum(v);
    if (threadIdx.x == 0) *out = v;
  }
  __syncthreads();
}

// partials[b] = sum of E[(r-f)^2], partials[kPartialBlocks + b] = sum of (r - mean)^2 (CPU:
// train_pass's chunked_sum over predict_one without noise).
__global__ void __launch_bounds__(kThreads)
    sse_kernel(TrainingView d, SideView users, SideView items, float mu0, const float* dot,
               const float* factor_var, double* partials) {
  double expected = 0, mean_sq = 0;
  PPMF_GRID_STRIDE(p, d.nnz) {
    const int32_t i = d.user_of[p], j = d.by_user.col[p];
    const float mean = mu0 + users.bias_mean[i] + items.bias_mean[j] + dot[p];
    const float var = factor_var[p] + users.bias_var[i] + items.bias_var[j];
    const double err = d.value[p] - mean;
    expected += err * err + var;
    mean_sq += err * err;
  }
  block_sum(expected, partials + blockIdx.x);
  block_sum(mean_sq, partials + kPartialBlocks + blockIdx.x);
}

// partials[b] = sum of the KL terms of entities with data (CPU: side_kl): every (row, k) with
// k < rank, and k == stride for the bias.
__global__ void __launch_bounds__(kThreads) kl_kernel(SideView s, double* partials) {
  double kl = 0;
  const long long width = s.stride + 1;
  PPMF_GRID_STRIDE(idx, static_cast<long long>(s.n) * width) {
    const long long row = idx / width;
    const int k = static_cast<int>(idx - row * width);
    if (s.count[row] == 0 || (k >= s.rank && k != s.stride)) continue;
    const int32_t g = s.group[row];
    if (k == s.stride) {
      kl += math::kl_term(s.bias_mean[row], s.bias_logsd[row], s.prior_bias_mean[g],
                          s.prior_bias_prec[g]);
    } else {
      const size_t at = static_cast<size_t>(row) * s.stride + k,
                   pg = static_cast<size_t>(g) * s.stride + k;
      kl += math::kl_term(s.mean[at], s.logsd[at], s.prior_mean[pg], s.prior_prec[pg]);
    }
  }
  block_sum(kl, partials + blockIdx.x);
}

}  // namespace

PassSums train_pass_sums(cusparseHandle_t handle, const TrainingView& data, const SideView& users,
                         const SideView& items, float mu0, const PassScratch& ws,
                         cudaStream_t stream) {
  const int stride = users.stride;
  const long long nnz = data.nnz;
  PPMF_CUDA_CHECK(cudaMemsetAsync(ws.partials, 0, sizeof(double) * kPartialBlocks * 4, stream));
  if (nnz > 0) {
    if (stride > 0) {
      sddmm(handle, data.by_user, nnz, users.mean, items.mean, stride, stride, ws.dot,
            *ws.workspace, stream);
      build_pair<<<grid_for(static_cast<long long>(users.n) * stride), kThreads, 0, stream>>>(
          users, Pair::kSquaresAndVar, ws.wu);
      PPMF_CUDA_CHECK_LAUNCH();
      build_pair<<<grid_for(static_cast<long long>(items.n) * stride), kThreads, 0, stream>>>(
          items, Pair::kVarAndSecondMoment, ws.wv);
      PPMF_CUDA_CHECK_LAUNCH();
      sddmm(handle, data.by_user, nnz, ws.wu, ws.wv, 2 * stride, 2 * stride, ws.aux, *ws.workspace,
            stream);
    } else {
      PPMF_CUDA_CHECK(cudaMemsetAsync(ws.dot, 0, sizeof(float) * nnz, stream));
      PPMF_CUDA_CHECK(cudaMemsetAsync(ws.aux, 0, sizeof(float) * nnz, stream));
    }
    sse_kernel<<<grid_for(nnz, kPartialBlocks), kThreads, 0, stream>>>(data, users, items, mu0,
                                                                       ws.dot, ws.aux, ws.partials);
    PPMF_CUDA_CHECK_LAUNCH();
  }
  const long long wu = static_cast<long long>(users.n) * (stride + 1);
  const long long wi = static_cast<long long>(items.n) * (stride + 1);
  if (users.n > 0) {
    kl_kernel<<<grid_for(wu, kPartialBlocks), kThreads, 0, stream>>>(
        users, ws.partials + 2 * kPartialBlocks);
    PPMF_CUDA_CHECK_LAUNCH();
  }
  if (items.n > 0) {
    kl_kernel<<<grid_for(wi, kPartialBlocks), kThreads, 0, stream>>>(
        items, ws.partials + 3 * kPartialBlocks);
    PPMF_CUDA_CHECK_LAUNCH();
  }
  double host[kPartialBlocks * 4];
  PPMF_CUDA_CHECK(cudaMemcpyAsync(host, ws.partials, sizeof(host), cudaMemcpyDeviceToHost, stream));
  PPMF_CUDA_CHECK(cudaStreamSynchronize(stream));
  PassSums sums;
  for (int b = 0; b < kPartialBlocks; ++b) {
    sums.sse_expected += host[b];
    sums.sse_mean += host[kPartialBlocks + b];
    sums.kl_users += host[2 * kPartialBlocks + b];
    sums.kl_items += host[3 * kPartialBlocks + b];
  }
  return sums;
}

void full_batch_gradient(cusparseHandle_t handle, const TrainingView& data, const SideView& users,
                         const SideView& items, float mu0, const PassScratch& ws,
                         cudaStream_t stream) {
  const int stride = users.stride;
  const long long nnz = data.nnz;
  if (nnz == 0) return;
  const int width1 = stride + 4, width2 = 2 * stride;
  // Residuals, user-major (in place over the products) and item-major.
  if (stride > 0) {
    sddmm(handle, data.by_user, nnz, users.mean, items.mean, stride, stride, ws.dot, *ws.workspace,
          stream);
  } else {
    PPMF_CUDA_CHECK(cudaMemsetAsync(ws.dot, 0, sizeof(float) * nnz, stream));
  }
  residuals<<<grid_for(nnz), kThreads, 0, stream>>>(data, users, items, mu0, ws.dot);
  PPMF_CUDA_CHECK_LAUNCH();
  gather_item_major<<<grid_for(nnz), kThreads, 0, stream>>>(data, ws.dot, ws.aux);
  PPMF_CUDA_CHECK_LAUNCH();
  if (stride > 0) {
    fill<<<grid_for(nnz), kThreads, 0, stream>>>(ws.ones, 1.f, nnz);
    PPMF_CUDA_CHECK_LAUNCH();
  }

  // Users: E [N, 1] and P [T^2, N o N + T^2].
  build_mean_ones<<<grid_for(static_cast<long long>(items.n) * width1), kThreads, 0, stream>>>(
      items, ws.b1);
  PPMF_CUDA_CHECK_LAUNCH();
  spmm(handle, data.by_user, nnz, ws.dot, ws.b1, width1, width1, ws.c1, *ws.workspace, stream);
  if (stride > 0) {
    build_pair<<<grid_for(static_cast<long long>(items.n) * stride), kThreads, 0, stream>>>(
        items, Pair::kVarAndSecondMoment, ws.wv);
    PPMF_CUDA_CHECK_LAUNCH();
    spmm(handle, data.by_user, nnz, ws.ones, ws.wv, width2, width2, ws.c2, *ws.workspace, stream);
  }
  assemble<<<grid_for(static_cast<long long>(users.n) * (stride + 1)), kThreads, 0, stream>>>(
      users, true, ws.c1, ws.c2);
  PPMF_CUDA_CHECK_LAUNCH();

  // Items: E^T [M, 1] and P^T [M o M, S^2].
  build_mean_ones<<<grid_for(static_cast<long long>(users.n) * width1), kThreads, 0, stream>>>(
      users, ws.b1);
  PPMF_CUDA_CHECK_LAUNCH();
  spmm(handle, data.by_item, nnz, ws.aux, ws.b1, width1, width1, ws.c1, *ws.workspace, stream);
  if (stride > 0) {
    build_pair<<<grid_for(static_cast<long long>(users.n) * stride), kThreads, 0, stream>>>(
        users, Pair::kSquaresAndVar, ws.wu);
    PPMF_CUDA_CHECK_LAUNCH();
    spmm(handle, data.by_item, nnz, ws.ones, ws.wu, width2, width2, ws.c2, *ws.workspace, stream);
  }
  assemble<<<grid_for(static_cast<long long>(items.n) * (stride + 1)), kThreads, 0, stream>>>(
      items, false, ws.c1, ws.c2);
  PPMF_CUDA_CHECK_LAUNCH();
}

}  // namespace ppmf::cuda
