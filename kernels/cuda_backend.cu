// The CUDA backend: the Backend interface over device-resident guide, optimizer state and training
// entries. CPU twin: CpuBackend in host/cpu_backend.cpp, which every method here mirrors (same
// inputs, same checks and messages, same results to float rounding).
//
// Work per call:
//   step(b, e)        entry kernel + row kernel (step_kernels.cuh), two launches, no host sync;
//                     the full batch (0, N) goes through cuSPARSE SpMM instead (full_pass.cuh);
//   shuffle(seed)     keys + radix sort + gather on the device (shuffle.cuh);
//   train_pass()      cuSPARSE SDDMM + reductions (full_pass.cuh);
//   group_moments()   segmented reduction over members sorted by group (pooling.cuh);
//   predict / score   lane-group kernel / cuBLAS SGEMM (scoring.cuh).
// Everything runs on one stream of the backend's own; results come back with synchronous copies.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "cuda_backend.hpp"
#include "cuda_check.cuh"
#include "device_buffer.cuh"
#include "device_side.cuh"
#include "full_pass.cuh"
#include "lanes.cuh"
#include "pooling.cuh"
#include "scoring.cuh"
#include "shuffle.cuh"
#include "step_kernels.cuh"

namespace ppmf {
namespace {

using cuda::DeviceBuffer;
using cuda::DeviceSide;

constexpr size_t kAlign = 256;
size_t align_up(size_t b) {
  return (b + kAlign - 1) / kAlign * kAlign;
}

std::string gigabytes(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", static_cast<double>(bytes) / 1e9);
  return buf;
}

// Stable counting sort of `order` by key[order[k]] (keys in [0, buckets)); offsets gets the CSR row
// pointers (buckets + 1).
std::vector<int32_t> counting_sort(const std::vector<int32_t>& order,
                                   const std::vector<int32_t>& key, int buckets,
                                   std::vector<int32_t>& offsets) {
  offsets.assign(static_cast<size_t>(buckets) + 1, 0);
  for (int32_t e : order) ++offsets[static_cast<size_t>(key[e]) + 1];
  for (int b = 0; b < buckets; ++b) offsets[b + 1] += offsets[b];
  std::vector<int32_t> cursor(offsets.begin(), offsets.end() - 1), out(order.size());
  for (int32_t e : order) out[cursor[key[e]]++] = e;
  return out;
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    if (device < 0) throw Error("--device " + std::to_string(device) + ": not a GPU index");
    try {
      PPMF_CUDA_CHECK(cudaSetDevice(device_));
      cudaDeviceProp prop{};
      PPMF_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
      gpu_name_ = prop.name;
      sm_count_ = prop.multiProcessorCount;
      PPMF_CUDA_CHECK(cudaStreamCreate(&stream_));
      PPMF_CUBLAS_CHECK(cublasCreate(&blas_));
      PPMF_CUBLAS_CHECK(cublasSetStream(blas_, stream_));
      PPMF_CUBLAS_CHECK(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));  // full FP32 (no TF32)
      PPMF_CUSPARSE_CHECK(cusparseCreate(&sparse_));
      PPMF_CUSPARSE_CHECK(cusparseSetStream(sparse_, stream_));
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
    const int rank = model.rank();
    if (rank < 0 || rank > cuda::kMaxRank)
      throw Error("rank " + std::to_string(rank) + " exceeds the CUDA backend's limit of 1024");
    if (model.U.rank != rank || model.V.rank != rank)
      throw Error("model guide rank differs from its config");
    check_groups(model.user_groups, model.U.n, model.user_prior.n_groups, "user");
    check_groups(model.item_groups, model.V.n, model.item_prior.n_groups, "item");
    const bool keep_training = n_train_ > 0 && model.U.n == users_.n && model.V.n == items_.n &&
                               padded_stride(rank) == users_.stride;
    // The old guide (and training data that no longer fits the model) are released before measuring
    // what is free.
    for (DeviceSide* s : {&users_, &items_}) *s = DeviceSide{};
    if (!keep_training) release_training();
    const size_t stride = static_cast<size_t>(padded_stride(rank));
    require_free(
        DeviceSide::bytes_for(model.U.n, stride) + DeviceSide::bytes_for(model.V.n, stride),
        "model");
    load_side(users_, model.U, model.user_groups, keep_training ? &user_count_ : nullptr);
    load_side(items_, model.V, model.item_groups, keep_training ? &item_count_ : nullptr);
    adam_t_ = 0;
    parity_ = 0;
    user_order_.valid = item_order_.valid = false;
    set_priors(model);
    if (keep_training) refresh_active_rows();
    sync();
  }

  void set_priors(const Model& model) override {
    activate();
    mu0_ = model.mu0;
    sigma2_ = model.sigma2;
    set_side_priors(users_, model.user_prior, model.config.tau);
    set_side_priors(items_, model.item_prior, model.config.tau);
    sync();  // the host staging vectors of the uploads go out of scope
  }

  void load_training(const std::vector<int32_t>& user, const std::vector<int32_t>& item,
                     const std::vector<float>& value) override {
    activate();
    if (user.size() != item.size() || user.size() != value.size())
      throw Error("training arrays differ in length");
    const size_t n = user.size();
    if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
      throw Error("the CUDA backend takes at most 2^31 - 1 training entries (got " +
                  std::to_string(n) + ")");
    std::vector<int32_t> ucount(static_cast<size_t>(users_.n), 0),
        icount(static_cast<size_t>(items_.n), 0);
    for (size_t k = 0; k < n; ++k) {
      if (user[k] < 0 || user[k] >= users_.n || item[k] < 0 || item[k] >= items_.n)
        throw Error("training entry " + std::to_string(k) + " has an index outside the model");
      ++ucount[user[k]];
      ++icount[item[k]];
    }
    release_training();
    const size_t nu = static_cast<size_t>(users_.n), ni = static_cast<size_t>(items_.n);
    const size_t stride = static_cast<size_t>(users_.stride), wide = std::max(nu, ni);
    const size_t dense_floats =
        (nu + ni) * 2 * stride + 2 * wide * (stride + 4) + wide * 2 * stride;
    const size_t entry_scratch =
        std::max(cuda::shuffle_scratch_bytes(n), 3 * align_up(n * sizeof(float)));
    const size_t need = n * (3 * 4)                   // batch arrays
                        + n * (3 * 4) + (nu + 1) * 4  // user-major CSR: column, row, value
                        + n * (2 * 4) + (ni + 1) * 4  // item-major CSR: column, position
                        + entry_scratch + dense_floats * sizeof(float) +
                        sizeof(double) * cuda::kPartialBlocks * 4;
    require_free(need, "data");

    // CSR by user with columns sorted within rows (a stable sort by item, then by user), and by
    // item (users sorted within rows), with each item-major entry's user-major position.
    std::vector<int32_t> identity(n), uptr, iptr;
    std::iota(identity.begin(), identity.end(), 0);
    const std::vector<int32_t> by_item_first = counting_sort(identity, item, items_.n, iptr);
    const std::vector<int32_t> user_major = counting_sort(by_item_first, user, users_.n, uptr);
    const std::vector<int32_t> item_major = counting_sort(user_major, item, items_.n, iptr);
    std::vector<int32_t> position(n), ucol(n), urow(n), icol(n), ipos(n);
    std::vector<float> uval(n);
    for (size_t p = 0; p < n; ++p) {
      const int32_t e = user_major[p];
      position[e] = static_cast<int32_t>(p);
      ucol[p] = item[e];
      urow[p] = user[e];
      uval[p] = value[e];
    }
    for (size_t q = 0; q < n; ++q) {
      icol[q] = user[item_major[q]];
      ipos[q] = position[item_major[q]];
    }
    batch_user_.assign(user.data(), n, stream_);  // the identity permutation, as on the CPU
    batch_item_.assign(item.data(), n, stream_);
    batch_value_.assign(value.data(), n, stream_);
    csr_user_ptr_.assign(uptr.data(), uptr.size(), stream_);
    csr_user_col_.assign(ucol.data(), n, stream_);
    csr_user_row_.assign(urow.data(), n, stream_);
    csr_value_.assign(uval.data(), n, stream_);
    csr_item_ptr_.assign(iptr.data(), iptr.size(), stream_);
    csr_item_col_.assign(icol.data(), n, stream_);
    csr_item_pos_.assign(ipos.data(), n, stream_);
    entry_scratch_.resize(entry_scratch);
    dense_scratch_.resize(dense_floats);
    partials_.resize(static_cast<size_t>(cuda::kPartialBlocks) * 4);
    users_.count.assign(ucount.data(), nu, stream_);
    items_.count.assign(icount.data(), ni, stream_);
    user_count_ = std::move(ucount);
    item_count_ = std::move(icount);
    n_train_ = n;
    user_order_.valid = item_order_.valid = false;
    refresh_active_rows();
    sync();
  }

  void shuffle(uint64_t seed) override {
    activate();
    if (n_train_ == 0) return;
    const cuda::EntryArrays src{csr_user_row_.data(), csr_user_col_.data(), csr_value_.data()};
    const cuda::EntryArrays dst{batch_user_.data(), batch_item_.data(), batch_value_.data()};
    cuda::shuffle_entries(seed, src, dst, n_train_, entry_scratch_.data(), entry_scratch_.size(),
                          stream_);
  }

  void step(size_t begin, size_t end, const StepParams& params) override {
    activate();
    check_batch(begin, end);
    ++adam_t_;
    cuda::RowUpdate up;
    up.mode = cuda::RowMode::kAdam;
    up.scale = params.scale;
    up.sigma2 = sigma2_;
    up.adam = params.adam;
    up.adam.bias_corr1 = 1.0f - std::pow(up.adam.beta1, static_cast<float>(adam_t_));
    up.adam.bias_corr2 = 1.0f - std::pow(up.adam.beta2, static_cast<float>(adam_t_));
    run_rows(up, accumulate(begin, end), {}, {});
  }

  void gradient(size_t begin, size_t end, float scale, GuideGradient& out) override {
    activate();
    check_batch(begin, end);
    const Lists lists = accumulate(begin, end);
    cuda::ExportView eu = export_view(export_u_, users_), ev = export_view(export_v_, items_);
    cuda::RowUpdate up;
    up.mode = cuda::RowMode::kExport;
    up.scale = scale;
    up.sigma2 = sigma2_;
    run_rows(up, lists, eu, ev);
    download_block(export_u_, users_, out.U);
    download_block(export_v_, items_, out.V);
  }

  TrainPassStats train_pass() override {
    activate();
    partials_.ensure(static_cast<size_t>(cuda::kPartialBlocks) * 4);
    const cuda::PassSums sums = cuda::train_pass_sums(sparse_, training_view(), users_.view(),
                                                      items_.view(), mu0_, pass_scratch(), stream_);
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
    return cuda::group_moments(s.view(), order, group_sums_, stream_);
  }

  void predict(const PairIndex* pairs, size_t n, float* mean, float* var) override {
    activate();
    const int32_t ue = extended_size(users_), ie = extended_size(items_);
    for (size_t k = 0; k < n; ++k) {
      if (pairs[k].user < 0 || pairs[k].user >= ue || pairs[k].item < 0 || pairs[k].item >= ie)
        throw Error("prediction pair " + std::to_string(k) + " has an index outside the model");
    }
    if (n == 0) return;
    pairs_.ensure(n);
    pred_mean_.ensure(n);
    pred_var_.ensure(n);
    PPMF_CUDA_CHECK(cudaMemcpyAsync(pairs_.data(), pairs, n * sizeof(PairIndex),
                                    cudaMemcpyHostToDevice, stream_));
    cuda::predict_pairs(users_.view(), items_.view(), pairs_.data(), static_cast<long long>(n),
                        mu0_, sigma2_, pred_mean_.data(), pred_var_.data(), stream_);
    PPMF_CUDA_CHECK(cudaMemcpyAsync(mean, pred_mean_.data(), n * sizeof(float),
                                    cudaMemcpyDeviceToHost, stream_));
    PPMF_CUDA_CHECK(
        cudaMemcpyAsync(var, pred_var_.data(), n * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    sync();
  }

  void score_all_items(const int32_t* users, size_t n, float* mean, float* var) override {
    activate();
    const int32_t ue = extended_size(users_);
    for (size_t k = 0; k < n; ++k)
      if (users[k] < 0 || users[k] >= ue)
        throw Error("scoring: user index " + std::to_string(users[k]) + " is outside the model");
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

  double time_entry_kernels(size_t begin, size_t end, int repeats) override {
    activate();
    check_batch(begin, end);
    cuda::Event start, stop;
    std::vector<double> seconds;
    cuda::RowUpdate clear;
    clear.mode = cuda::RowMode::kClear;
    for (int r = 0; r < std::max(1, repeats); ++r) {
      PPMF_CUDA_CHECK(cudaEventRecord(start.get(), stream_));
      const Lists lists = entry_batch(begin, end);  // the fused kernel even for the full batch
      PPMF_CUDA_CHECK(cudaEventRecord(stop.get(), stream_));
      run_rows(clear, lists, {}, {});
      seconds.push_back(cuda::elapsed_ms(start, stop) * 1e-3);
    }
    sync();
    std::nth_element(seconds.begin(), seconds.begin() + seconds.size() / 2, seconds.end());
    return seconds[seconds.size() / 2];
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

 private:
  // Rows visited by the row kernel after an accumulation.
  struct Lists {
    cuda::RowList users, items;
    bool flips_parity = false;
  };

  void activate() const { PPMF_CUDA_CHECK(cudaSetDevice(device_)); }
  void sync() const { PPMF_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  void destroy_handles() noexcept {
    if (sparse_ != nullptr) PPMF_CUSPARSE_CHECK_NOEXCEPT(cusparseDestroy(sparse_));
    if (blas_ != nullptr) PPMF_CUBLAS_CHECK_NOEXCEPT(cublasDestroy(blas_));
    if (stream_ != nullptr) PPMF_CUDA_CHECK_NOEXCEPT(cudaStreamDestroy(stream_));
    sparse_ = nullptr;
    blas_ = nullptr;
    stream_ = nullptr;
  }

  void require_free(size_t need, const char* what) const {
    size_t free_b = 0, total_b = 0;
    PPMF_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    if (need > free_b)
      throw Error(std::string(what) + " needs " + gigabytes(need) + " GB of GPU memory but only " +
                  gigabytes(free_b) + " GB are free on device " + std::to_string(device_));
  }

  static void check_groups(const Groups& groups, int n, int n_groups, const char* side) {
    if (groups.of.size() != static_cast<size_t>(n))
      throw Error(std::string("model has ") + std::to_string(groups.of.size()) + " " + side +
                  " group assignments for " + std::to_string(n) + " " + side + "s");
    for (int32_t g : groups.of)
      if (g < 0 || g >= n_groups)
        throw Error(std::string(side) + " group index " + std::to_string(g) +
                    " is outside the model's " + std::to_string(n_groups) + " groups");
  }

  static int32_t extended_size(const DeviceSide& s) { return s.n + s.n_groups + 1; }

  // Guide in, variances cached with the CPU's formula (exp_vectorizable(2 w) for k < rank, padding
  // 0), optimizer state and accumulators zeroed. Counts restored from `count` or zero.
  void load_side(DeviceSide& s, const GuideBlock& g, const Groups& groups,
                 const std::vector<int32_t>* count) {
    s.n = g.n;
    s.rank = g.rank;
    s.stride = padded_stride(g.rank);
    const size_t n = static_cast<size_t>(s.n), rows = n * s.stride;
    if (g.mean.size() != rows || g.logsd.size() != rows || g.bias_mean.size() != n ||
        g.bias_logsd.size() != n)
      throw Error("model guide arrays do not match its shape");
    std::vector<float> var(rows, 0.f), bias_var(n);
    for (size_t i = 0; i < n; ++i) {
      for (int k = 0; k < s.rank; ++k) {
        const size_t at = i * s.stride + k;
        var[at] = math::exp_vectorizable(2.0f * g.logsd[at]);
      }
      bias_var[i] = math::exp_vectorizable(2.0f * g.bias_logsd[i]);
    }
    s.mean.assign(g.mean.data(), rows, stream_);
    s.logsd.assign(g.logsd.data(), rows, stream_);
    s.var.assign(var.data(), rows, stream_);
    s.bias_mean.assign(g.bias_mean.data(), n, stream_);
    s.bias_logsd.assign(g.bias_logsd.data(), n, stream_);
    s.bias_var.assign(bias_var.data(), n, stream_);
    for (DeviceBuffer<float>* b :
         {&s.m1_mean, &s.m2_mean, &s.m1_logsd, &s.m2_logsd, &s.g_mean, &s.g_logsd}) {
      b->resize(rows);
      b->zero(stream_);
    }
    for (DeviceBuffer<float>* b :
         {&s.m1_bias, &s.m2_bias, &s.m1_bias_logsd, &s.m2_bias_logsd, &s.g_bias}) {
      b->resize(n);
      b->zero(stream_);
    }
    s.group.assign(groups.of.data(), n, stream_);
    if (count != nullptr) {
      s.count.assign(count->data(), n, stream_);
    } else {
      s.count.resize(n);
      s.count.zero(stream_);
    }
    for (DeviceBuffer<int32_t>* b : {&s.occ, &s.touched, &s.active}) {
      b->resize(n);
      b->zero(stream_);
    }
    s.touched_count.resize(2);
    s.touched_count.zero(stream_);
    s.active_count.resize(1);
    s.active_count.zero(stream_);
    sync();  // staging vectors go out of scope
  }

  // Prior rows as in set_side_priors (host/cpu_backend.cpp): group g at row g, the population at
  // row n_groups; variances and precisions both kept.
  void set_side_priors(DeviceSide& s, const PriorBlock& p, float tau) {
    if (p.n_groups < 0 || p.rank != s.rank) throw Error("prior shape does not match the model");
    s.n_groups = p.n_groups;
    const size_t rows = static_cast<size_t>(p.n_groups + 1) * s.stride;
    std::vector<float> mean(rows, 0.f), prec(rows, 1.f), var(rows, 0.f);
    std::vector<float> bmean(p.n_groups + 1, 0.f), bprec(p.n_groups + 1, 1.f),
        bvar(p.n_groups + 1, 0.f);
    for (int g = 0; g < p.n_groups; ++g) {
      for (int k = 0; k < s.rank; ++k) {
        const size_t at = static_cast<size_t>(g) * s.stride + k;
        mean[at] = p.mean[static_cast<size_t>(g) * p.rank + k];
        prec[at] = p.prec[static_cast<size_t>(g) * p.rank + k];
        var[at] = 1.0f / prec[at];
      }
      bmean[g] = p.bias_mean[g];
      bprec[g] = p.bias_prec[g];
      bvar[g] = 1.0f / p.bias_prec[g];
    }
    std::vector<float> pm, pv;
    float bm = 0, bv = 0;
    p.population(tau, pm, pv, bm, bv);
    for (int k = 0; k < s.rank; ++k) {
      const size_t at = static_cast<size_t>(p.n_groups) * s.stride + k;
      mean[at] = pm[k];
      var[at] = pv[k];
      prec[at] = 1.0f / pv[k];
    }
    bmean[p.n_groups] = bm;
    bvar[p.n_groups] = bv;
    bprec[p.n_groups] = 1.0f / bv;
    s.prior_mean.assign(mean.data(), rows, stream_);
    s.prior_prec.assign(prec.data(), rows, stream_);
    s.prior_var.assign(var.data(), rows, stream_);
    s.prior_bias_mean.assign(bmean.data(), bmean.size(), stream_);
    s.prior_bias_prec.assign(bprec.data(), bprec.size(), stream_);
    s.prior_bias_var.assign(bvar.data(), bvar.size(), stream_);
  }

  void release_training() {
    n_train_ = 0;
    for (DeviceBuffer<int32_t>* b :
         {&batch_user_, &batch_item_, &csr_user_ptr_, &csr_user_col_, &csr_user_row_,
          &csr_item_ptr_, &csr_item_col_, &csr_item_pos_})
      b->release();
    batch_value_.release();
    csr_value_.release();
    entry_scratch_.release();
    dense_scratch_.release();
    sparse_workspace_.release();
    user_order_ = cuda::GroupOrder{};
    item_order_ = cuda::GroupOrder{};
  }

  void refresh_active_rows() {
    active_users_ = cuda::build_active_rows(users_.count.data(), users_.n, users_.active.data(),
                                            users_.active_count.data(), stream_);
    active_items_ = cuda::build_active_rows(items_.count.data(), items_.n, items_.active.data(),
                                            items_.active_count.data(), stream_);
  }

  void check_batch(size_t begin, size_t end) const {
    if (begin >= end || end > n_train_) throw Error("empty or out-of-range batch");
  }

  cuda::TrainingView training_view() {
    cuda::TrainingView t;
    t.nnz = static_cast<long long>(n_train_);
    t.by_user = {users_.n, items_.n, csr_user_ptr_.data(), csr_user_col_.data()};
    t.user_of = csr_user_row_.data();
    t.value = csr_value_.data();
    t.by_item = {items_.n, users_.n, csr_item_ptr_.data(), csr_item_col_.data()};
    t.user_pos = csr_item_pos_.data();
    return t;
  }

  cuda::PassScratch pass_scratch() {
    const size_t nu = static_cast<size_t>(users_.n), ni = static_cast<size_t>(items_.n);
    const size_t stride = static_cast<size_t>(users_.stride), wide = std::max(nu, ni);
    cuda::PassScratch ws;
    float* f = dense_scratch_.data();
    ws.wu = f;
    ws.wv = ws.wu + nu * 2 * stride;
    ws.b1 = ws.wv + ni * 2 * stride;
    ws.c1 = ws.b1 + wide * (stride + 4);
    ws.c2 = ws.c1 + wide * (stride + 4);
    auto* e = entry_scratch_.data();
    const size_t per = align_up(n_train_ * sizeof(float));
    ws.dot = reinterpret_cast<float*>(e);
    ws.aux = reinterpret_cast<float*>(e + per);
    ws.ones = reinterpret_cast<float*>(e + 2 * per);
    ws.partials = partials_.data();
    ws.workspace = &sparse_workspace_;
    return ws;
  }

  // The fused entry kernel on perm[begin, end); the touched lists it fills.
  Lists entry_batch(size_t begin, size_t end) {
    const cuda::BatchView batch{batch_user_.data() + begin, batch_item_.data() + begin,
                                batch_value_.data() + begin, static_cast<long long>(end - begin)};
    const cuda::SideView u = users_.view(), v = items_.view();
    cuda::launch_entry_kernel(u, v, batch, parity_, mu0_, stream_);
    const long long b = static_cast<long long>(end - begin);
    Lists l;
    l.users = {u.touched, u.touched_count + parity_, u.touched_count + (1 - parity_),
               std::min<long long>(u.n, b)};
    l.items = {v.touched, v.touched_count + parity_, v.touched_count + (1 - parity_),
               std::min<long long>(v.n, b)};
    l.flips_parity = true;
    return l;
  }

  // Likelihood sums of perm[begin, end) into the accumulators: SpMM for the full batch, else the
  // entry kernel.
  Lists accumulate(size_t begin, size_t end) {
    if (begin != 0 || end != n_train_) return entry_batch(begin, end);
    cuda::full_batch_gradient(sparse_, training_view(), users_.view(), items_.view(), mu0_,
                              pass_scratch(), stream_);
    Lists l;
    l.users = {users_.active.data(), users_.active_count.data(), nullptr, active_users_};
    l.items = {items_.active.data(), items_.active_count.data(), nullptr, active_items_};
    return l;
  }

  void run_rows(const cuda::RowUpdate& up, const Lists& lists, const cuda::ExportView& eu,
                const cuda::ExportView& ev) {
    cuda::launch_row_kernel(up, users_.view(), lists.users, eu, items_.view(), lists.items, ev,
                            sm_count_, stream_);
    if (lists.flips_parity) parity_ = 1 - parity_;
  }

  // Dense gradient buffers of one side (mean, logsd: n * stride; bias mean, bias logsd: n), zeroed.
  struct ExportBuffers {
    DeviceBuffer<float> mean, logsd, bias_mean, bias_logsd;
  };
  cuda::ExportView export_view(ExportBuffers& b, const DeviceSide& s) {
    const size_t rows = static_cast<size_t>(s.n) * s.stride, n = static_cast<size_t>(s.n);
    b.mean.resize(rows);
    b.logsd.resize(rows);
    b.bias_mean.resize(n);
    b.bias_logsd.resize(n);
    for (DeviceBuffer<float>* x : {&b.mean, &b.logsd, &b.bias_mean, &b.bias_logsd})
      x->zero(stream_);
    return {b.mean.data(), b.logsd.data(), b.bias_mean.data(), b.bias_logsd.data()};
  }
  void download_block(const ExportBuffers& b, const DeviceSide& s, GuideBlock& out) {
    out.resize(s.n, s.rank);
    b.mean.download(out.mean.data(), out.mean.size(), stream_);
    b.logsd.download(out.logsd.data(), out.logsd.size(), stream_);
    b.bias_mean.download(out.bias_mean.data(), out.bias_mean.size(), stream_);
    b.bias_logsd.download(out.bias_logsd.data(), out.bias_logsd.size(), stream_);
  }

  void store_side(const DeviceSide& s, GuideBlock& g) {
    g.resize(s.n, s.rank);
    s.mean.download(g.mean.data(), g.mean.size(), stream_);
    s.logsd.download(g.logsd.data(), g.logsd.size(), stream_);
    s.bias_mean.download(g.bias_mean.data(), g.bias_mean.size(), stream_);
    s.bias_logsd.download(g.bias_logsd.data(), g.bias_logsd.size(), stream_);
  }

  int device_;
  std::string gpu_name_;
  int sm_count_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cusparseHandle_t sparse_ = nullptr;

  DeviceSide users_, items_;
  float mu0_ = 0.f, sigma2_ = 1.f;
  long adam_t_ = 0;
  int parity_ = 0;  // which touched counter the next mini-batch appends with

  // Training entries: the current permutation (batch arrays), the user-major CSR (also the source
  // of shuffles) and the item-major CSR.
  size_t n_train_ = 0;
  std::vector<int32_t> user_count_, item_count_;
  long long active_users_ = 0, active_items_ = 0;
  DeviceBuffer<int32_t> batch_user_, batch_item_;
  DeviceBuffer<float> batch_value_;
  DeviceBuffer<int32_t> csr_user_ptr_, csr_user_col_, csr_user_row_;
  DeviceBuffer<float> csr_value_;
  DeviceBuffer<int32_t> csr_item_ptr_, csr_item_col_, csr_item_pos_;
  DeviceBuffer<unsigned char>
      entry_scratch_;                  // shuffle keys and indices, or the passes' per-entry arrays
  DeviceBuffer<float> dense_scratch_;  // the passes' dense operands and products
  DeviceBuffer<double> partials_;
  DeviceBuffer<unsigned char> sparse_workspace_;

  cuda::GroupOrder user_order_, item_order_;
  DeviceBuffer<double> group_sums_;
  ExportBuffers export_u_, export_v_;
  DeviceBuffer<PairIndex> pairs_;
  DeviceBuffer<float> pred_mean_, pred_var_;
  cuda::ScoreScratch score_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device) {
  return std::make_unique<CudaBackend>(device);
}

}  // namespace ppmf
