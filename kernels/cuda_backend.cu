// The CUDA backend: the Backend interface over device-resident rows, training entries and priors.
// CPU twin: CpuBackend in host/cpu_backend.cpp, which every method here mirrors (same inputs,
// same checks and messages through the shared builders of include/ppmf/side_priors.hpp, same
// results to float rounding).
//
// Work per call:
//   solve_rows(side)  the block-per-row solve kernel (row_solve.cuh);
//   train_pass()      entry and row reductions (train_pass.cuh);
//   group_moments()   gathers + cuBLAS DSYRK / DGEMV per group (pooling.cuh);
//   predict / score   pair kernel / cuBLAS SGEMM (scoring.cuh).
// Everything runs on one stream of the backend's own; results come back with synchronous copies.
// Every buffer a call needs is allocated before its first launch, so a failed allocation leaves
// the device state as it was.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "cuda_check.cuh"
#include "cuda_plugin.hpp"
#include "device_buffer.cuh"
#include "device_side.cuh"
#include "measure.cuh"
#include "pooling.cuh"
#include "row_solve.cuh"
#include "scoring.cuh"
#include "train_pass.cuh"

namespace ppmf {
namespace {

using cuda::DeviceBuffer;
using cuda::DeviceSide;

std::string gigabytes(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", static_cast<double>(bytes) / 1e9);
  return buf;
}

// CSR of one side from COO, stable in input order (the CPU's build_csr).
void build_csr(int rows, const std::vector<int32_t>& row, const std::vector<int32_t>& other,
               const std::vector<float>& value, std::vector<int64_t>& offsets,
               std::vector<int32_t>& other_out, std::vector<float>& value_out,
               std::vector<int32_t>& count) {
  offsets.assign(static_cast<size_t>(rows) + 1, 0);
  for (const int32_t r : row) ++offsets[static_cast<size_t>(r) + 1];
  for (int i = 0; i < rows; ++i) offsets[i + 1] += offsets[i];
  std::vector<int64_t> cursor(offsets.begin(), offsets.end() - 1);
  other_out.resize(row.size());
  value_out.resize(row.size());
  for (size_t k = 0; k < row.size(); ++k) {
    const int64_t at = cursor[row[k]]++;
    other_out[at] = other[k];
    value_out[at] = value[k];
  }
  count.resize(rows);
  for (int i = 0; i < rows; ++i) count[i] = static_cast<int32_t>(offsets[i + 1] - offsets[i]);
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    if (device < 0) throw Error("device " + std::to_string(device) + " is not a GPU index");
    try {
      PPMF_CUDA_CHECK(cudaSetDevice(device_));
      cudaDeviceProp prop{};
      PPMF_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
      gpu_name_ = prop.name;
      sm_count_ = prop.multiProcessorCount;
      max_shared_bytes_ = prop.sharedMemPerBlockOptin;
      PPMF_CUDA_CHECK(cudaStreamCreate(&stream_));
      PPMF_CUBLAS_CHECK(cublasCreate(&blas_));
      PPMF_CUBLAS_CHECK(cublasSetStream(blas_, stream_));
      PPMF_CUBLAS_CHECK(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));  // full FP32 (no TF32)
      failed_.resize(1);
    } catch (...) {
      destroy_handles();
      throw;
    }
  }

  ~CudaBackend() override {
    PPMF_CUDA_CHECK_NOEXCEPT(cudaSetDevice(device_));
    if (stream_ != nullptr) PPMF_CUDA_CHECK_NOEXCEPT(cudaStreamSynchronize(stream_));
    destroy_handles();
  }

  std::string name() const override {
    return "cuda:" + std::to_string(device_) + " (" + gpu_name_ + ")";
  }

  void load_model(const Model& model) override {
    activate();
    check_model_shapes(model);
    given_background_[0] = given_background_[1] = false;
    const bool keep_training = n_train_ > 0 && model.U.n == users_.n &&
                               model.V.n == items_.n && model.rank() == users_.rank;
    // The old rows go before measuring what is free.
    for (DeviceSide* s : {&users_, &items_}) {
      s->rows.release();
      s->logsd.release();
    }
    if (!keep_training) release_training();
    const size_t stride = static_cast<size_t>(row_stride(model.rank()));
    require_free(DeviceSide::bytes_for(model.U.n, stride) + DeviceSide::bytes_for(model.V.n, stride),
                 "the model");
    load_side(users_, model.U, model.user_groups);
    load_side(items_, model.V, model.item_groups);
    set_priors(model);
    user_order_.valid = item_order_.valid = false;
    sync();
  }

  void set_priors(const Model& model) override {
    activate();
    mu0_ = model.mu0;
    sigma2_ = model.sigma2;
    upload_priors(users_, side_priors(model, Side::kUsers));
    upload_priors(items_, side_priors(model, Side::kItems));
    sync();  // the host staging vectors of the uploads go out of scope
  }

  void load_training(const std::vector<int32_t>& user, const std::vector<int32_t>& item,
                     const std::vector<float>& value) override {
    activate();
    check_training_entries(user, item, value.size(), users_.n, items_.n);
    const size_t n = user.size();
    release_training();
    require_free(2 * n * (sizeof(int32_t) + sizeof(float)) +
                     (static_cast<size_t>(users_.n) + items_.n + 2) * sizeof(int64_t),
                 "the training entries");
    n_train_ = n;
    upload_entries(users_, user, item, value);
    upload_entries(items_, item, user, value);
    user_order_.valid = item_order_.valid = false;
    sync();
  }

  bool supports_implicit() const override { return true; }
  void set_implicit(float zero_weight) override {
    if (!(zero_weight >= 0)) throw Error("the zero weight must be >= 0");
    zero_weight_ = zero_weight;
    given_background_[0] = given_background_[1] = false;
  }

  void solve_rows(Side which, int begin, int end) override {
    run_solve(which, begin, end, nullptr, nullptr);
  }

  void row_statistics(Side which, int begin, int end, double* stats) override {
    const size_t n = static_cast<size_t>(std::max(0, end - begin)) * row_statistics_size(rank_of(which));
    stats_.ensure(n);
    run_solve(which, begin, end, stats_.data(), nullptr);
    stats_.download(stats, n, stream_);
  }

  void solve_rows_from(Side which, int begin, int end, const double* stats) override {
    const size_t n = static_cast<size_t>(std::max(0, end - begin)) * row_statistics_size(rank_of(which));
    stats_.upload(stats, n, stream_);
    run_solve(which, begin, end, nullptr, stats_.data());
  }

  std::vector<double> implicit_background(Side which) override {
    activate();
    const DeviceSide& o = which == Side::kUsers ? items_ : users_;
    const int dim = o.dim;
    cuda::implicit_background(o.view(), background_, background_scratch_, sm_count_, stream_);
    std::vector<double> full(static_cast<size_t>(dim) * dim + dim), packed;
    background_.download(full.data(), full.size(), stream_);
    for (int r = 0; r < dim; ++r)
      for (int c = 0; c <= r; ++c) packed.push_back(full[static_cast<size_t>(r) * dim + c]);
    packed.insert(packed.end(), full.end() - dim, full.end());
    return packed;
  }

  void set_background(Side which, const std::vector<double>& packed) override {
    activate();
    const int dim = rank_of(which) + 1;
    if (packed.size() != row_statistics_size(dim - 1) - 1)
      throw Error("internal: a background of the wrong size");
    std::vector<double> full(static_cast<size_t>(dim) * dim + dim, 0.0);
    const double* in = packed.data();
    for (int r = 0; r < dim; ++r)
      for (int c = 0; c <= r; ++c) full[static_cast<size_t>(r) * dim + c] = *in++;
    std::copy_n(in, dim, full.end() - dim);
    const int k = which == Side::kUsers ? 0 : 1;
    given_background_buffer_[k].assign(full.data(), full.size(), stream_);
    given_background_[k] = true;
    sync();
  }

  void get_rows(Side which, int begin, int end, float* rows) override {
    activate();
    const DeviceSide& s = which == Side::kUsers ? users_ : items_;
    check_row_range(s, begin, end);
    const size_t n = static_cast<size_t>(end - begin) * 2 * s.dim;
    packed_rows_.ensure(n);
    cuda::pack_rows(s.view(), begin, end, packed_rows_.data(), stream_);
    packed_rows_.download(rows, n, stream_);
  }

  void set_rows(Side which, int begin, int end, const float* rows) override {
    activate();
    DeviceSide& s = which == Side::kUsers ? users_ : items_;
    check_row_range(s, begin, end);
    packed_rows_.upload(rows, static_cast<size_t>(end - begin) * 2 * s.dim, stream_);
    cuda::unpack_rows(s.view(), begin, end, packed_rows_.data(), stream_);
    sync();
  }

  void set_entry_counts(Side which, const std::vector<int32_t>& counts) override {
    activate();
    DeviceSide& s = which == Side::kUsers ? users_ : items_;
    if (counts.size() != static_cast<size_t>(s.n)) throw Error("internal: counts of the wrong size");
    s.count.assign(counts.data(), counts.size(), stream_);
    sync();
  }

  TrainPassStats train_pass() override {
    activate();
    const cuda::PassSums sums =
        cuda::train_pass(users_.view(), items_.view(), mu0_, partials_, stream_);
    TrainPassStats st;
    st.n = n_train_;
    st.sse_expected = sums.sse_expected;
    st.sse_mean = sums.sse_mean;
    st.kl_users = sums.kl_users;
    st.kl_items = sums.kl_items;
    return st;
  }

  GroupMoments group_moments(Side which) override {
    activate();
    DeviceSide& s = which == Side::kUsers ? users_ : items_;
    cuda::GroupOrder& order = which == Side::kUsers ? user_order_ : item_order_;
    if (!order.valid) cuda::build_group_order(s.view(), order, stream_);
    return cuda::group_moments(blas_, s.view(), order, moments_, stream_);
  }

  void predict(const PairIndex* pairs, size_t n, float* mean, float* var) override {
    activate();
    check_pairs(pairs, n, users_.n + users_.host_priors.rows, items_.n + items_.host_priors.rows);
    if (n == 0) return;
    pairs_.ensure(n);
    pred_mean_.ensure(n);
    pred_var_.ensure(n);
    PPMF_CUDA_CHECK(cudaMemcpyAsync(pairs_.data(), pairs, n * sizeof(PairIndex),
                                    cudaMemcpyHostToDevice, stream_));
    cuda::predict_pairs(users_.view(), items_.view(), pairs_.data(), static_cast<long long>(n), mu0_,
                        sigma2_, pred_mean_.data(), pred_var_.data(), stream_);
    PPMF_CUDA_CHECK(cudaMemcpyAsync(mean, pred_mean_.data(), n * sizeof(float),
                                    cudaMemcpyDeviceToHost, stream_));
    PPMF_CUDA_CHECK(cudaMemcpyAsync(var, pred_var_.data(), n * sizeof(float),
                                    cudaMemcpyDeviceToHost, stream_));
    sync();
  }

  void score_all_items(const int32_t* users, size_t n, float* mean, float* var) override {
    activate();
    check_scored_users(users, n, users_.n + users_.host_priors.rows);
    size_t free_b = 0, total_b = 0;
    PPMF_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const size_t block_bytes =
        std::max<size_t>(size_t{1} << 20, std::min<size_t>(size_t{256} << 20, free_b / 4));
    cuda::score_all_items(blas_, users_.view(), items_.view(), mu0_, sigma2_, users, n, mean, var,
                          score_, block_bytes, stream_);
  }

  void store_guide(Model& model) override {
    activate();
    store_side(users_, model.U);
    store_side(items_, model.V);
  }

  void synchronize() override {
    activate();
    sync();
  }

  double copy_bandwidth() override {
    activate();
    sync();
    // 1 GiB each way (far beyond L2), smaller when memory is short. Best of 5 after a warm-up.
    size_t free_b = 0, total_b = 0;
    PPMF_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    size_t bytes = size_t{1} << 30;
    while (bytes > (size_t{64} << 20) && 2 * bytes + (size_t{256} << 20) > free_b) bytes /= 2;
    DeviceBuffer<unsigned char> src(bytes), dst(bytes);
    PPMF_CUDA_CHECK(cudaMemsetAsync(src.data(), 0x5a, bytes, stream_));  // not zeros
    cuda::Event start, stop;
    double best = 0;
    for (int rep = 0; rep < 6; ++rep) {
      PPMF_CUDA_CHECK(cudaEventRecord(start.get(), stream_));
      PPMF_CUDA_CHECK(
          cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyDeviceToDevice, stream_));
      PPMF_CUDA_CHECK(cudaEventRecord(stop.get(), stream_));
      const float ms = cuda::elapsed_ms(start, stop);
      if (rep > 0 && ms > 0) best = std::max(best, 2.0 * static_cast<double>(bytes) / (ms * 1e-3));
    }
    return best;
  }

  double peak_flops() override {
    activate();
    return cuda::measure_peak_flops(sm_count_, stream_);
  }

 private:
  void activate() const { PPMF_CUDA_CHECK(cudaSetDevice(device_)); }
  void sync() const { PPMF_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  void destroy_handles() noexcept {
    if (blas_ != nullptr) PPMF_CUBLAS_CHECK_NOEXCEPT(cublasDestroy(blas_));
    if (stream_ != nullptr) PPMF_CUDA_CHECK_NOEXCEPT(cudaStreamDestroy(stream_));
    blas_ = nullptr;
    stream_ = nullptr;
  }

  int rank_of(Side which) const { return which == Side::kUsers ? users_.rank : items_.rank; }

  void check_row_range(const DeviceSide& s, int begin, int end) const {
    if (begin < 0 || end > s.n || begin > end) throw Error("row range outside the model");
  }

  // A solve of rows [begin, end): from their entries, or into / from statistics (row_solve.cuh).
  void run_solve(Side which, int begin, int end, double* stats_out, const double* stats_in) {
    activate();
    DeviceSide& s = which == Side::kUsers ? users_ : items_;
    const DeviceSide& o = which == Side::kUsers ? items_ : users_;
    if (n_train_ == 0) throw Error("no training entries loaded");
    check_row_range(s, begin, end);
    failed_.zero(stream_);
    const int k = which == Side::kUsers ? 0 : 1;
    const double* background = nullptr;
    if (zero_weight_ > 0 && stats_out == nullptr) {
      if (given_background_[k]) {
        background = given_background_buffer_[k].data();
      } else {
        cuda::implicit_background(o.view(), background_, background_scratch_, sm_count_, stream_);
        background = background_.data();
      }
    }
    cuda::solve_rows(s.view(), o.view(), begin, end, mu0_, sigma2_, failed_.data(), solve_scratch_,
                     sm_count_, max_shared_bytes_, stream_, zero_weight_, background, stats_out,
                     stats_in);
    int failed = 0;
    failed_.download(&failed, 1, stream_);
    if (failed)
      throw Error("an exact row solve met a precision that is not positive definite (non-finite "
                  "values in the model or the data?)");
  }

  void require_free(size_t need, const char* what) const {
    size_t free_b = 0, total_b = 0;
    PPMF_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    if (need > free_b)
      throw Error(std::string(what) + " needs " + gigabytes(need) + " GB of GPU memory but only " +
                  gigabytes(free_b) + " GB are free on device " + std::to_string(device_));
  }

  // Rows in (mean and variance rows interleaved, as on the CPU), groups, and zero counts until
  // training entries arrive (kept when the entries still fit).
  void load_side(DeviceSide& s, const GuideBlock& g, const Groups& groups) {
    s.n = g.n;
    s.rank = g.rank;
    s.dim = g.rank + 1;
    s.stride = row_stride(g.rank);
    const size_t n = static_cast<size_t>(s.n), stride = static_cast<size_t>(s.stride);
    std::vector<float> mean, logsd, var, rows(n * 2 * stride);
    guide_to_rows(g, s.stride, mean, logsd, var);
    for (size_t i = 0; i < n; ++i) {
      std::copy_n(&mean[i * stride], stride, &rows[i * 2 * stride]);
      std::copy_n(&var[i * stride], stride, &rows[i * 2 * stride + stride]);
    }
    s.rows.assign(rows.data(), rows.size(), stream_);
    s.logsd.assign(logsd.data(), logsd.size(), stream_);
    s.group.assign(groups.of.data(), n, stream_);
    if (s.offsets.size() != n + 1) {  // no training entries for this shape
      std::vector<int32_t> zeros(n, 0);
      s.count.assign(zeros.data(), n, stream_);
    }
    sync();  // staging vectors go out of scope
  }

  void upload_priors(DeviceSide& s, SidePriors p) {
    s.prec.assign(p.prec.data(), p.prec.size(), stream_);
    s.prec_mean.assign(p.prec_mean.data(), p.prec_mean.size(), stream_);
    s.prior_mean.assign(p.mean.data(), p.mean.size(), stream_);
    s.log_det_prec.assign(p.log_det_prec.data(), p.log_det_prec.size(), stream_);
    s.row_mean.assign(p.row_mean.data(), p.row_mean.size(), stream_);
    s.row_var.assign(p.row_var.data(), p.row_var.size(), stream_);
    s.row_cov.assign(p.row_cov.data(), p.row_cov.size(), stream_);
    sync();
    s.host_priors = std::move(p);
  }

  void upload_entries(DeviceSide& s, const std::vector<int32_t>& row,
                      const std::vector<int32_t>& other, const std::vector<float>& value) {
    std::vector<int64_t> offsets;
    std::vector<int32_t> other_out, count;
    std::vector<float> value_out;
    build_csr(s.n, row, other, value, offsets, other_out, value_out, count);
    s.offsets.assign(offsets.data(), offsets.size(), stream_);
    s.other.assign(other_out.data(), other_out.size(), stream_);
    s.value.assign(value_out.data(), value_out.size(), stream_);
    s.count.assign(count.data(), count.size(), stream_);
    sync();
  }

  void release_training() {
    n_train_ = 0;
    for (DeviceSide* s : {&users_, &items_}) {
      s->offsets.release();
      s->other.release();
      s->value.release();
    }
    user_order_ = cuda::GroupOrder{};
    item_order_ = cuda::GroupOrder{};
  }

  void store_side(const DeviceSide& s, GuideBlock& g) {
    const size_t n = static_cast<size_t>(s.n), stride = static_cast<size_t>(s.stride);
    std::vector<float> rows(n * 2 * stride), logsd(n * stride), mean(n * stride);
    s.rows.download(rows.data(), rows.size(), stream_);
    s.logsd.download(logsd.data(), logsd.size(), stream_);
    for (size_t i = 0; i < n; ++i) std::copy_n(&rows[i * 2 * stride], stride, &mean[i * stride]);
    rows_to_guide(mean.data(), logsd.data(), s.n, s.rank, s.stride, g);
  }

  int device_;
  std::string gpu_name_;
  int sm_count_ = 0;
  size_t max_shared_bytes_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;

  DeviceSide users_, items_;
  float mu0_ = 0.f, sigma2_ = 1.f;
  float zero_weight_ = 0.f;  // implicit zeros (set_implicit); 0 = off
  DeviceBuffer<double> background_, background_scratch_;
  // Distributed training: statistics of a row range, packed guide rows, given backgrounds.
  DeviceBuffer<double> stats_;
  DeviceBuffer<float> packed_rows_;
  DeviceBuffer<double> given_background_buffer_[2];
  bool given_background_[2] = {false, false};
  size_t n_train_ = 0;  // training entries on the device (kept by a reload of the same shape)
  DeviceBuffer<int> failed_;
  DeviceBuffer<double> solve_scratch_, partials_;
  cuda::GroupOrder user_order_, item_order_;
  cuda::MomentScratch moments_;
  DeviceBuffer<PairIndex> pairs_;
  DeviceBuffer<float> pred_mean_, pred_var_;
  cuda::ScoreScratch score_;
};

}  // namespace
}  // namespace ppmf

extern "C" ppmf::Backend* ppmf_cuda_plugin_make_backend(int device, std::string* error) {
  try {
    return new ppmf::CudaBackend(device);
  } catch (const std::exception& e) {
    *error = e.what();
  }
  return nullptr;
}
