// CPU backend: the reference implementation of every kernel (CUDA twins in kernels/).
//
// A step on batch B runs three race-free parallel phases, with no atomics and no per-thread copies:
//   1. entries grouped by user (a stable counting sort of the batch by the user's slot): each user
//      row is owned by one thread, which computes the residuals e of its entries, stores them, and
//      sums its likelihood gradient;
//   2. entries grouped by item: each item row is owned by one thread, which reuses the stored e;
//   3. every touched row adds its KL share (scale * occurrences / c_i) and takes a lazy Adam step.
// Each row's sum runs in batch order whatever the thread count, so results are bit-identical for
// 1..T threads (on one machine: the entry loops are compiled per ISA level and picked at run time).
#include "cpu_backend.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <thread>

#include "huge_pages.hpp"
#include "parallel.hpp"
#include "ppmf/permutation.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define PPMF_MULTIVERSION \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define PPMF_MULTIVERSION
#endif

namespace ppmf {
namespace {

constexpr int kMaxRank = 1024;  // the CLI's bound; sizes the per-row stack buffers

// The vectors kept per row, interleaved: a row's parameters, cached variances and Adam moments
// lie in one contiguous block (mean and variance first: the entry loops read those), so the random
// row accesses of a step hit few DRAM pages and TLB entries and the prefetcher sees streams.
enum Field { kMean, kVar, kLogsd, kM1Mean, kM2Mean, kM1Logsd, kM2Logsd, kFields };

// Guide, cached variances, optimizer state, priors and per-batch scratch of one side.
struct SideState {
  int n = 0, d = 0, stride = 0;
  HugeVector<float> rows;                             // n * kFields * stride
  HugeVector<float> bias_mean, bias_logsd, bias_var;  // n
  HugeVector<float> m1_bias, m2_bias, m1_bias_logsd, m2_bias_logsd;
  std::vector<int32_t> group, count;
  // Prior rows: group g at row g, the population at row n_groups; variances, not precisions.
  int n_groups = 0;
  std::vector<float> prior_mean, prior_prec, prior_var;                 // (n_groups + 1) * stride
  std::vector<float> prior_bias_mean, prior_bias_prec, prior_bias_var;  // n_groups + 1
  // Batch scratch: slot of each touched row (-1 = untouched), rows by slot, entries by slot.
  std::vector<int32_t> slot, touched, occurrences, offsets, order, slot_of_entry, cursor;
  std::vector<float> g_mean, g_logsd, g_bias, g_bias_logsd;  // likelihood sums by slot

  void resize_guide(int count_, int d_) {
    n = count_;
    d = d_;
    stride = padded_stride(d_);
    rows.assign(static_cast<size_t>(n) * kFields * stride, 0.f);
    for (auto* v :
         {&bias_mean, &bias_logsd, &bias_var, &m1_bias, &m2_bias, &m1_bias_logsd, &m2_bias_logsd})
      v->assign(n, 0.f);
    slot.assign(n, -1);
    count.assign(n, 0);
  }

  float* row(int32_t i, Field f) { return &rows[(static_cast<size_t>(i) * kFields + f) * stride]; }
  const float* row(int32_t i, Field f) const {
    return &rows[(static_cast<size_t>(i) * kFields + f) * stride];
  }
  // Mean and variance rows of an extended index (entity, group prior or population).
  const float* mean_row(int32_t x) const {
    return x < n ? row(x, kMean) : &prior_mean[static_cast<size_t>(x - n) * stride];
  }
  const float* var_row(int32_t x) const {
    return x < n ? row(x, kVar) : &prior_var[static_cast<size_t>(x - n) * stride];
  }
  float bias_mean_of(int32_t x) const { return x < n ? bias_mean[x] : prior_bias_mean[x - n]; }
  float bias_var_of(int32_t x) const { return x < n ? bias_var[x] : prior_bias_var[x - n]; }
  int32_t extended_size() const { return n + n_groups + 1; }
};

void load_side(SideState& s, const GuideBlock& g, const Groups& groups) {
  if (g.rank > kMaxRank)
    throw Error("rank " + std::to_string(g.rank) + " exceeds the CPU backend's limit of 1024");
  s.resize_guide(g.n, g.rank);
  s.bias_mean.assign(g.bias_mean.begin(), g.bias_mean.end());
  s.bias_logsd.assign(g.bias_logsd.begin(), g.bias_logsd.end());
  for (int i = 0; i < s.n; ++i) {
    const float* mean = g.mean_row(i);
    const float* logsd = g.logsd_row(i);
    float *m = s.row(i, kMean), *w = s.row(i, kLogsd), *v = s.row(i, kVar);
    for (int k = 0; k < s.d; ++k) {
      m[k] = mean[k];
      w[k] = logsd[k];
      v[k] = math::exp_vectorizable(2.0f * logsd[k]);
    }
    s.bias_var[i] = math::exp_vectorizable(2.0f * s.bias_logsd[i]);
  }
  s.group = groups.of;
}

void set_side_priors(SideState& s, const PriorBlock& p, float tau) {
  s.n_groups = p.n_groups;
  const size_t rows = static_cast<size_t>(p.n_groups + 1) * s.stride;
  s.prior_mean.assign(rows, 0.f);
  s.prior_prec.assign(rows, 1.f);
  s.prior_var.assign(rows, 0.f);
  s.prior_bias_mean.assign(p.n_groups + 1, 0.f);
  s.prior_bias_prec.assign(p.n_groups + 1, 1.f);
  s.prior_bias_var.assign(p.n_groups + 1, 0.f);
  for (int g = 0; g < p.n_groups; ++g) {
    for (int k = 0; k < s.d; ++k) {
      const size_t at = static_cast<size_t>(g) * s.stride + k;
      s.prior_mean[at] = p.mean[static_cast<size_t>(g) * p.rank + k];
      s.prior_prec[at] = p.prec[static_cast<size_t>(g) * p.rank + k];
      s.prior_var[at] = 1.0f / s.prior_prec[at];
    }
    s.prior_bias_mean[g] = p.bias_mean[g];
    s.prior_bias_prec[g] = p.bias_prec[g];
    s.prior_bias_var[g] = 1.0f / p.bias_prec[g];
  }
  std::vector<float> pm, pv;
  float bm = 0, bv = 0;
  p.population(tau, pm, pv, bm, bv);
  for (int k = 0; k < s.d; ++k) {
    const size_t at = static_cast<size_t>(p.n_groups) * s.stride + k;
    s.prior_mean[at] = pm[k];
    s.prior_var[at] = pv[k];
    s.prior_prec[at] = 1.0f / pv[k];
  }
  s.prior_bias_mean[p.n_groups] = bm;
  s.prior_bias_var[p.n_groups] = bv;
  s.prior_bias_prec[p.n_groups] = 1.0f / bv;
}

// Sums, over the entries of one user (or item) row, the likelihood gradient of that row.
// `own` is the row being accumulated, `other_*` the rows of the entries' counterparts.
// With store_residual, computes e and writes it; otherwise reads it.
struct RowEntries {
  const int32_t* order;  // batch positions of this row's entries
  int count;
  const int32_t* other;  // counterpart index per batch position
  const float* value;    // rating per batch position (transformed)
  float* residual;       // e per batch position
};

PPMF_MULTIVERSION
void accumulate_row(const SideState& own_side, int32_t row, const SideState& other_side,
                    const RowEntries& entries, bool store_residual, float mu0, float* g_mean,
                    float* g_logsd, float* g_bias, float* g_bias_logsd) {
  const int d = own_side.d;
  const float* m = own_side.row(row, kMean);
  const float* s2 = own_side.row(row, kVar);
  const float own_bias = own_side.bias_mean[row];
  const float own_bias_var = own_side.bias_var[row];
  float gb = 0.f;
  for (int k = 0; k < d; ++k) g_mean[k] = g_logsd[k] = 0.f;
  for (int t = 0; t < entries.count; ++t) {
    const int32_t pos = entries.order[t];
    const int32_t j = entries.other[pos];
    const float* n = other_side.row(j, kMean);
    const float* t2 = other_side.row(j, kVar);
    float e;
    if (store_residual) {
      float dot = 0.f;
#pragma omp simd reduction(+ : dot)
      for (int k = 0; k < d; ++k) dot += m[k] * n[k];
      e = entries.value[pos] - mu0 - own_bias - other_side.bias_mean[j] - dot;
      entries.residual[pos] = e;
    } else {
      e = entries.residual[pos];
    }
#pragma omp simd
    for (int k = 0; k < d; ++k) {
      g_mean[k] += math::lik_grad_mean(e, n[k], m[k], t2[k]);
      g_logsd[k] += math::lik_grad_logsd(s2[k], n[k], t2[k]);
    }
    gb += e;
  }
  *g_bias = gb;
  *g_bias_logsd = entries.count * math::lik_grad_bias_logsd(own_bias_var);
}

// Adam on n means and log-sds, refreshing the variance cache.
PPMF_MULTIVERSION
void adam_row(float* mean, float* logsd, float* var, float* m1m, float* m2m, float* m1w, float* m2w,
              const float* gm, const float* gw, int n, const math::AdamStep& step) {
  const math::AdamStep a = step;  // a local copy: the compiler need not assume it aliases the rows
#pragma omp simd
  for (int k = 0; k < n; ++k) {
    mean[k] = math::adam_ascend(mean[k], gm[k], m1m[k], m2m[k], a);
    const float w = math::clamp_logsd(math::adam_ascend(logsd[k], gw[k], m1w[k], m2w[k], a));
    logsd[k] = w;
    var[k] = math::exp_vectorizable(2.0f * w);
  }
}

// Predictive means and variances of one user (rows m, s2; bias terms folded into base_*) against
// nj items given dimension-major (dimension k of item jj at n_t[k * ld + jj]): SIMD across items,
// 3 FMAs per item and dimension, no horizontal sums.
PPMF_MULTIVERSION
void score_block(const float* m, const float* s2, int d, float base_mean, float base_var,
                 const float* item_bias_mean, const float* item_bias_var, const float* n_t,
                 const float* t2_t, size_t ld, size_t nj, float* mean, float* var) {
  // 16 items at a time, accumulated over all dimensions in registers.
  constexpr size_t kLanes = 16;
  for (size_t j0 = 0; j0 < nj; j0 += kLanes) {
    const size_t len = std::min(kLanes, nj - j0);
    float am[kLanes] = {}, av[kLanes] = {};
    for (int k = 0; k < d; ++k) {
      const float mk = m[k], m2k = m[k] * m[k], s2k = s2[k];
      const float* nk = n_t + k * ld + j0;
      const float* tk = t2_t + k * ld + j0;
#pragma omp simd
      for (size_t t = 0; t < kLanes; ++t) {
        am[t] += mk * nk[t];
        av[t] += m2k * tk[t] + s2k * (nk[t] * nk[t] + tk[t]);
      }
    }
    for (size_t t = 0; t < len; ++t) {
      mean[j0 + t] = base_mean + item_bias_mean[j0 + t] + am[t];
      var[j0 + t] = base_var + item_bias_var[j0 + t] + av[t];
    }
  }
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads)
      : threads_(threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency())) {}

  std::string name() const override { return "cpu (" + std::to_string(threads_) + " threads)"; }

  void load_model(const Model& model) override {
    load_side(users_, model.U, model.user_groups);
    load_side(items_, model.V, model.item_groups);
    adam_t_ = 0;
    set_priors(model);
    // Entries loaded earlier stay usable (with their counts) when they still fit the new model;
    // otherwise they are dropped, so a step fails clearly instead of dividing by a zero count.
    if (entries_fit(user_, item_)) {
      count_entries();
    } else {
      user_.clear();
      item_.clear();
      value_.clear();
      perm_.clear();
    }
  }

  void set_priors(const Model& model) override {
    mu0_ = model.mu0;
    sigma2_ = model.sigma2;
    set_side_priors(users_, model.user_prior, model.config.tau);
    set_side_priors(items_, model.item_prior, model.config.tau);
  }

  void load_training(const std::vector<int32_t>& user, const std::vector<int32_t>& item,
                     const std::vector<float>& value) override {
    if (user.size() != item.size() || user.size() != value.size())
      throw Error("training arrays differ in length");
    if (!entries_fit(user, item)) throw Error("a training entry has an index outside the model");
    user_ = user;
    item_ = item;
    value_ = value;
    perm_.resize(user_.size());
    std::iota(perm_.begin(), perm_.end(), 0u);
    count_entries();
  }

  void shuffle(uint64_t seed) override { random_permutation(seed, value_.size(), perm_); }

  void step(size_t begin, size_t end, const StepParams& params) override {
    accumulate_batch(begin, end);
    ++adam_t_;
    math::AdamStep a = params.adam;
    a.bias_corr1 = 1.0f - std::pow(a.beta1, static_cast<float>(adam_t_));
    a.bias_corr2 = 1.0f - std::pow(a.beta2, static_cast<float>(adam_t_));
#pragma omp parallel num_threads(threads_)
    for (SideState* side : {&users_, &items_}) {
      const long touched = static_cast<long>(side->touched.size());
#pragma omp for schedule(static) nowait
      for (long sl = 0; sl < touched; ++sl) {
        apply_adam(*side, static_cast<int32_t>(sl), params.scale, a);
        side->slot[side->touched[sl]] = -1;
      }
    }
  }

  void gradient(size_t begin, size_t end, float scale, GuideGradient& out) override {
    accumulate_batch(begin, end);
    export_gradient(users_, scale, out.U);
    export_gradient(items_, scale, out.V);
  }

  TrainPassStats train_pass() override {
    TrainPassStats st;
    st.n = value_.size();
    const auto sse = chunked_sum<2>(value_.size(), threads_, [&](size_t b, size_t e, auto& acc) {
      for (size_t k = b; k < e; ++k) {
        float mean, var;
        predict_one(user_[k], item_[k], mean, var, /*with_noise=*/false);
        const double err = value_[k] - mean;
        acc[0] += err * err + var;
        acc[1] += err * err;
      }
    });
    st.sse_expected = sse[0];
    st.sse_mean = sse[1];
    st.kl_users = side_kl(users_);
    st.kl_items = side_kl(items_);
    return st;
  }

  GroupMoments group_moments(Side which) override {
    const SideState& s = which == Side::kUsers ? users_ : items_;
    GroupMoments gm;
    gm.reset(s.n_groups, s.d);
    for (int i = 0; i < s.n; ++i) {
      if (s.count[i] == 0) continue;  // q is its prior: carries no information about it
      const int g = s.group[i];
      gm.count[g] += 1;
      const float* mean = s.row(i, kMean);
      const float* var = s.row(i, kVar);
      for (int k = 0; k < s.d; ++k) {
        const size_t gk = static_cast<size_t>(g) * s.d + k;
        gm.sum_mean[gk] += mean[k];
        gm.sum_sq_mean[gk] += static_cast<double>(mean[k]) * mean[k];
        gm.sum_var[gk] += var[k];
      }
      gm.bias_sum[g] += s.bias_mean[i];
      gm.bias_sum_sq[g] += static_cast<double>(s.bias_mean[i]) * s.bias_mean[i];
      gm.bias_sum_var[g] += s.bias_var[i];
    }
    return gm;
  }

  void predict(const PairIndex* pairs, size_t n, float* mean, float* var) override {
    for (size_t k = 0; k < n; ++k) {
      if (pairs[k].user < 0 || pairs[k].user >= users_.extended_size() || pairs[k].item < 0 ||
          pairs[k].item >= items_.extended_size())
        throw Error("prediction pair " + std::to_string(k) + " has an index outside the model");
    }
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (long k = 0; k < static_cast<long>(n); ++k)
      predict_one(pairs[k].user, pairs[k].item, mean[k], var[k], /*with_noise=*/true);
  }

  void score_all_items(const int32_t* users, size_t n, float* mean, float* var) override {
    for (size_t k = 0; k < n; ++k)
      if (users[k] < 0 || users[k] >= users_.extended_size())
        throw Error("scoring: user index " + std::to_string(users[k]) + " is outside the model");
    // The item factors are transposed once (dimension-major) so score_block runs across items in
    // SIMD lanes; users x item blocks run in parallel, an item block (256 items) staying in L1/L2
    // across a block of users. predict_one is the reference (Recommend tests compare the two).
    constexpr size_t kUsers = 16, kItems = 256;
    const size_t items = static_cast<size_t>(items_.n);
    const int d = users_.d;
    // 16 floats of slack: score_block reads whole 16-item groups past the last item.
    items_t_mean_.assign(static_cast<size_t>(d) * items + 16, 0.f);
    items_t_var_.assign(static_cast<size_t>(d) * items + 16, 0.f);
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (long j = 0; j < static_cast<long>(items); ++j)
      for (int k = 0; k < d; ++k) {
        items_t_mean_[k * items + j] = items_.row(static_cast<int32_t>(j), kMean)[k];
        items_t_var_[k * items + j] = items_.row(static_cast<int32_t>(j), kVar)[k];
      }
    const long user_blocks = static_cast<long>((n + kUsers - 1) / kUsers);
    const long item_blocks = static_cast<long>((items + kItems - 1) / kItems);
#pragma omp parallel for collapse(2) schedule(dynamic, 4) num_threads(threads_)
    for (long ub = 0; ub < user_blocks; ++ub) {
      for (long jb = 0; jb < item_blocks; ++jb) {
        const size_t u0 = static_cast<size_t>(ub) * kUsers, u1 = std::min(n, u0 + kUsers);
        const size_t j0 = static_cast<size_t>(jb) * kItems, nj = std::min(items, j0 + kItems) - j0;
        for (size_t u = u0; u < u1; ++u) {
          const int32_t x = users[u];
          score_block(users_.mean_row(x), users_.var_row(x), d, mu0_ + users_.bias_mean_of(x),
                      sigma2_ + users_.bias_var_of(x), &items_.bias_mean[j0], &items_.bias_var[j0],
                      &items_t_mean_[j0], &items_t_var_[j0], items, nj, &mean[u * items + j0],
                      &var[u * items + j0]);
        }
      }
    }
  }

  void store_guide(Model& model) override {
    store_side(users_, model.U);
    store_side(items_, model.V);
  }

  double time_entry_kernels(size_t begin, size_t end, int repeats) override {
    std::vector<double> seconds;
    for (int r = 0; r < std::max(1, repeats); ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      accumulate_batch(begin, end);
      seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      for (SideState* side : {&users_, &items_})
        for (int32_t row : side->touched) side->slot[row] = -1;
    }
    std::nth_element(seconds.begin(), seconds.begin() + seconds.size() / 2, seconds.end());
    return seconds[seconds.size() / 2];
  }

  double copy_bandwidth() override {
    // 256 MiB each way: far beyond the caches, so this is DRAM bandwidth. Best of 5.
    const size_t n = size_t{64} << 20;
    std::vector<float> a(n, 1.0f), b(n, 0.0f);
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(static) num_threads(threads_)
      for (long k = 0; k < static_cast<long>(n); ++k) b[k] = a[k] + static_cast<float>(rep);
      const double sec =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, 2.0 * n * sizeof(float) / sec);
    }
    volatile float sink = b[n / 2];
    (void)sink;
    return best;
  }

 private:
  bool entries_fit(const std::vector<int32_t>& user, const std::vector<int32_t>& item) const {
    for (size_t k = 0; k < user.size(); ++k)
      if (user[k] < 0 || user[k] >= users_.n || item[k] < 0 || item[k] >= items_.n) return false;
    return true;
  }

  // Training entries per row: the denominators of the KL share.
  void count_entries() {
    std::fill(users_.count.begin(), users_.count.end(), 0);
    std::fill(items_.count.begin(), items_.count.end(), 0);
    for (size_t k = 0; k < user_.size(); ++k) {
      ++users_.count[user_[k]];
      ++items_.count[item_[k]];
    }
  }

  void predict_one(int32_t u, int32_t i, float& mean, float& var, bool with_noise) const {
    const float* m = users_.mean_row(u);
    const float* s2 = users_.var_row(u);
    const float* n = items_.mean_row(i);
    const float* t2 = items_.var_row(i);
    float dot = 0.f, fv = 0.f;
#pragma omp simd reduction(+ : dot, fv)
    for (int k = 0; k < users_.d; ++k) {
      dot += m[k] * n[k];
      fv += math::factor_variance_term(m[k], s2[k], n[k], t2[k]);
    }
    mean = mu0_ + users_.bias_mean_of(u) + items_.bias_mean_of(i) + dot;
    var = fv + users_.bias_var_of(u) + items_.bias_var_of(i) + (with_noise ? sigma2_ : 0.f);
  }

  double side_kl(const SideState& s) const {
    const auto kl =
        chunked_sum<1>(static_cast<size_t>(s.n), threads_, [&](size_t b, size_t e, auto& acc) {
          for (size_t i = b; i < e; ++i) {
            if (s.count[i] == 0) continue;
            const size_t g = static_cast<size_t>(s.group[i]);
            const float* mean = s.row(static_cast<int32_t>(i), kMean);
            const float* logsd = s.row(static_cast<int32_t>(i), kLogsd);
            for (int k = 0; k < s.d; ++k)
              acc[0] += math::kl_term(mean[k], logsd[k], s.prior_mean[g * s.stride + k],
                                      s.prior_prec[g * s.stride + k]);
            acc[0] += math::kl_term(s.bias_mean[i], s.bias_logsd[i], s.prior_bias_mean[g],
                                    s.prior_bias_prec[g]);
          }
        });
    return kl[0];
  }

  // Fills slots, groups batch entries by slot on both sides, and runs phases 1 and 2.
  void accumulate_batch(size_t begin, size_t end) {
    if (begin >= end || end > perm_.size()) throw Error("empty or out-of-range batch");
    const size_t b = end - begin;
    batch_user_.resize(b);
    batch_item_.resize(b);
    batch_value_.resize(b);
    residual_.resize(b);
    // One parallel region: gather, group users and items side by side (one thread each), then the
    // two row-owned phases; the implicit barriers order them.
#pragma omp parallel num_threads(threads_)
    {
#pragma omp for schedule(static)
      for (size_t k = 0; k < b; ++k) {
        const uint32_t at = perm_[begin + k];
        batch_user_[k] = user_[at];
        batch_item_[k] = item_[at];
        batch_value_[k] = value_[at];
      }
#pragma omp sections
      {
#pragma omp section
        group_by_slot(users_, batch_user_);
#pragma omp section
        group_by_slot(items_, batch_item_);
      }
      run_phase(users_, items_, batch_item_, /*store_residual=*/true);
      run_phase(items_, users_, batch_user_, /*store_residual=*/false);
    }
  }

  // Serial: assigns slots to the touched rows in first-touch order and sorts the batch by slot.
  static void group_by_slot(SideState& s, const std::vector<int32_t>& rows) {
    s.touched.clear();
    s.occurrences.clear();
    s.slot_of_entry.resize(rows.size());
    for (size_t k = 0; k < rows.size(); ++k) {
      int32_t& sl = s.slot[rows[k]];
      if (sl < 0) {
        sl = static_cast<int32_t>(s.touched.size());
        s.touched.push_back(rows[k]);
        s.occurrences.push_back(0);
      }
      ++s.occurrences[sl];
      s.slot_of_entry[k] = sl;
    }
    const size_t nt = s.touched.size();
    s.offsets.resize(nt + 1);
    s.offsets[0] = 0;
    for (size_t sl = 0; sl < nt; ++sl) s.offsets[sl + 1] = s.offsets[sl] + s.occurrences[sl];
    s.order.resize(rows.size());
    s.cursor.assign(s.offsets.begin(), s.offsets.end() - 1);
    for (size_t k = 0; k < rows.size(); ++k)
      s.order[s.cursor[s.slot_of_entry[k]]++] = static_cast<int32_t>(k);
    s.g_mean.resize(nt * s.stride);
    s.g_logsd.resize(nt * s.stride);
    s.g_bias.resize(nt);
    s.g_bias_logsd.resize(nt);
  }

  // Work-shared over the touched rows of `own`; called inside a parallel region.
  void run_phase(SideState& own, const SideState& other, const std::vector<int32_t>& other_rows,
                 bool store_residual) {
    const long nt = static_cast<long>(own.touched.size());
#pragma omp for schedule(dynamic, 16)
    for (long sl = 0; sl < nt; ++sl) {
      const RowEntries entries{&own.order[own.offsets[sl]], own.offsets[sl + 1] - own.offsets[sl],
                               other_rows.data(), batch_value_.data(), residual_.data()};
      accumulate_row(own, own.touched[sl], other, entries, store_residual, mu0_,
                     &own.g_mean[sl * own.stride], &own.g_logsd[sl * own.stride], &own.g_bias[sl],
                     &own.g_bias_logsd[sl]);
    }
  }

  // The estimator's gradient of row `sl`: scale * (lik / sigma^2 + occurrences / c * d(-KL)),
  // into g_mean / g_logsd (rank floats) and the two bias gradients.
  void row_gradient(const SideState& s, int32_t sl, float scale, float* g_mean, float* g_logsd,
                    float& g_bias, float& g_bias_logsd) const {
    const int32_t row = s.touched[sl];
    const size_t g = static_cast<size_t>(s.group[row]) * s.stride;
    const float* mean = s.row(row, kMean);
    const float* var = s.row(row, kVar);
    const float lik = scale / sigma2_;
    const float kl =
        scale * static_cast<float>(s.occurrences[sl]) / static_cast<float>(s.count[row]);
    const float* lm = &s.g_mean[sl * s.stride];
    const float* lw = &s.g_logsd[sl * s.stride];
#pragma omp simd
    for (int k = 0; k < s.d; ++k) {
      g_mean[k] =
          lik * lm[k] + kl * math::kl_grad_mean(mean[k], s.prior_mean[g + k], s.prior_prec[g + k]);
      g_logsd[k] = lik * lw[k] + kl * math::kl_grad_logsd(var[k], s.prior_prec[g + k]);
    }
    const size_t gb = static_cast<size_t>(s.group[row]);
    g_bias = lik * s.g_bias[sl] + kl * math::kl_grad_mean(s.bias_mean[row], s.prior_bias_mean[gb],
                                                          s.prior_bias_prec[gb]);
    g_bias_logsd =
        lik * s.g_bias_logsd[sl] + kl * math::kl_grad_logsd(s.bias_var[row], s.prior_bias_prec[gb]);
  }

  void apply_adam(SideState& s, int32_t sl, float scale, const math::AdamStep& a) {
    const int32_t row = s.touched[sl];
    float gm[kMaxRank], gw[kMaxRank], gb, gp;
    row_gradient(s, sl, scale, gm, gw, gb, gp);
    adam_row(s.row(row, kMean), s.row(row, kLogsd), s.row(row, kVar), s.row(row, kM1Mean),
             s.row(row, kM2Mean), s.row(row, kM1Logsd), s.row(row, kM2Logsd), gm, gw, s.d, a);
    adam_row(&s.bias_mean[row], &s.bias_logsd[row], &s.bias_var[row], &s.m1_bias[row],
             &s.m2_bias[row], &s.m1_bias_logsd[row], &s.m2_bias_logsd[row], &gb, &gp, 1, a);
  }

  void export_gradient(SideState& s, float scale, GuideBlock& out) {
    out.resize(s.n, s.d);
    for (size_t sl = 0; sl < s.touched.size(); ++sl) {
      const int32_t row = s.touched[sl];
      const size_t at = static_cast<size_t>(row) * s.stride;
      row_gradient(s, static_cast<int32_t>(sl), scale, &out.mean[at], &out.logsd[at],
                   out.bias_mean[row], out.bias_logsd[row]);
    }
    for (int32_t row : s.touched) s.slot[row] = -1;
  }

  static void store_side(const SideState& s, GuideBlock& g) {
    g.resize(s.n, s.d);
    for (int i = 0; i < s.n; ++i) {
      std::copy(s.row(i, kMean), s.row(i, kMean) + s.d, &g.mean[static_cast<size_t>(i) * g.stride]);
      std::copy(s.row(i, kLogsd), s.row(i, kLogsd) + s.d,
                &g.logsd[static_cast<size_t>(i) * g.stride]);
    }
    g.bias_mean.assign(s.bias_mean.begin(), s.bias_mean.end());
    g.bias_logsd.assign(s.bias_logsd.begin(), s.bias_logsd.end());
  }

  int threads_;
  SideState users_, items_;
  float mu0_ = 0.f, sigma2_ = 1.f;
  long adam_t_ = 0;
  std::vector<int32_t> user_, item_;
  std::vector<float> value_;
  std::vector<uint32_t> perm_;
  std::vector<int32_t> batch_user_, batch_item_;
  std::vector<float> batch_value_, residual_;
  std::vector<float> items_t_mean_, items_t_var_;  // dimension-major item factors for scoring
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace ppmf
