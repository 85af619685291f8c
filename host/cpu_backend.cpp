// CPU backend: the reference implementation of every kernel (CUDA twins in kernels/).
//
// Each side keeps its rows x = [u; alpha] in one block per row (mean then variance, `stride`
// floats each), so the random counterpart reads of a solve hit one region, and its training
// entries as CSR (the counterpart index and the value of every entry of a row, in the input
// order). solve_side runs rows in parallel, each by its own RowSolver over its own entries in a
// fixed order, so results are bit-identical for 1..T threads (on one machine: the hot loops are
// compiled per ISA level and picked at run time).
#include "cpu_backend.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "huge_pages.hpp"
#include "multiversion.hpp"
#include "parallel.hpp"
#include "cpus.hpp"
#include "ppmf/entry_math.hpp"
#include "ppmf/side_priors.hpp"
#include "row_solver.hpp"

namespace ppmf {
namespace {

struct SideState {
  int n = 0, rank = 0, dim = 0, stride = 0;
  HugeVector<float> rows;  // n * 2 * stride: mean row, then variance row
  HugeVector<float> logsd;  // n * stride
  std::vector<int32_t> group, count;
  // Training entries of each row: other[offsets[i] .. offsets[i+1]) and their values.
  std::vector<size_t> offsets;
  std::vector<int32_t> other;
  std::vector<float> value;
  SidePriors priors;

  float* mean(int32_t i) { return &rows[static_cast<size_t>(i) * 2 * stride]; }
  float* var(int32_t i) { return mean(i) + stride; }
  const float* mean(int32_t i) const { return &rows[static_cast<size_t>(i) * 2 * stride]; }
  const float* var(int32_t i) const { return mean(i) + stride; }
  int32_t extended_size() const { return n + priors.rows; }
  // The distribution of an extended index: a trained row, or a prior row (full covariance).
  math::RowDist dist(int32_t x) const {
    if (x < n) return {mean(x), var(x), nullptr};
    const size_t r = static_cast<size_t>(x - n);
    return {&priors.row_mean[r * dim], &priors.row_var[r * dim],
            &priors.row_cov[r * dim * dim]};
  }
};

void load_side(SideState& s, const GuideBlock& g, const Groups& groups) {
  s.n = g.n;
  s.rank = g.rank;
  s.dim = g.rank + 1;
  s.stride = row_stride(g.rank);
  std::vector<float> mean, logsd, var;
  guide_to_rows(g, s.stride, mean, logsd, var);
  s.rows.assign(static_cast<size_t>(s.n) * 2 * s.stride, 0.f);
  for (int i = 0; i < s.n; ++i) {
    std::copy_n(&mean[static_cast<size_t>(i) * s.stride], s.stride, s.mean(i));
    std::copy_n(&var[static_cast<size_t>(i) * s.stride], s.stride, s.var(i));
  }
  s.logsd.assign(logsd.begin(), logsd.end());
  s.group = groups.of;
  s.count.assign(s.n, 0);
}

// CSR of one side from COO (row of each entry, counterpart of each entry), stable in input order.
void build_csr(SideState& s, const std::vector<int32_t>& row, const std::vector<int32_t>& other,
               const std::vector<float>& value) {
  s.offsets.assign(static_cast<size_t>(s.n) + 1, 0);
  for (const int32_t r : row) ++s.offsets[static_cast<size_t>(r) + 1];
  for (int i = 0; i < s.n; ++i) s.offsets[i + 1] += s.offsets[i];
  std::vector<size_t> cursor(s.offsets.begin(), s.offsets.end() - 1);
  s.other.resize(row.size());
  s.value.resize(row.size());
  for (size_t k = 0; k < row.size(); ++k) {
    const size_t at = cursor[row[k]]++;
    s.other[at] = other[k];
    s.value[at] = value[k];
  }
  for (int i = 0; i < s.n; ++i)
    s.count[i] = static_cast<int32_t>(s.offsets[i + 1] - s.offsets[i]);
}

// Independent multiply-add chains, enough to fill the FMA pipes of any x86-64 level; returns a
// value so the loop is not optimised away.
PPMF_MULTIVERSION
float fma_chains(long iterations, float a, float b) {
  constexpr int kChains = 128;
  float acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = static_cast<float>(k);
  for (long it = 0; it < iterations; ++it) {
#pragma omp simd
    for (int k = 0; k < kChains; ++k) acc[k] = acc[k] * a + b;
  }
  float s = 0;
  for (int k = 0; k < kChains; ++k) s += acc[k];
  return s;
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
      : threads_(threads > 0 ? threads : usable_cpus()) {}

  std::string name() const override { return "cpu (" + std::to_string(threads_) + " threads)"; }

  void load_model(const Model& model) override {
    check_model_shapes(model);
    given_background_[0] = given_background_[1] = Background{};
    load_side(users_, model.U, model.user_groups);
    load_side(items_, model.V, model.item_groups);
    set_priors(model);
    // Entries loaded earlier stay (with their counts) when they still fit the new model.
    if (!user_.empty() && training_entries_fit(user_, item_, users_.n, items_.n)) {
      index_training();
    } else {
      user_.clear();
      item_.clear();
      value_.clear();
    }
  }

  void set_priors(const Model& model) override {
    mu0_ = model.mu0;
    sigma2_ = model.sigma2;
    users_.priors = side_priors(model, Side::kUsers);
    items_.priors = side_priors(model, Side::kItems);
  }

  void load_training(const std::vector<int32_t>& user, const std::vector<int32_t>& item,
                     const std::vector<float>& value) override {
    check_training_entries(user, item, value.size(), users_.n, items_.n);
    user_ = user;
    item_ = item;
    value_ = value;
    index_training();
  }

  bool supports_implicit() const override { return true; }
  void set_implicit(float zero_weight) override {
    if (!(zero_weight >= 0)) throw Error("the zero weight must be >= 0");
    zero_weight_ = zero_weight;
    given_background_[0] = given_background_[1] = Background{};
  }

  void solve_rows(Side which, int begin, int end) override {
    SideState& s = side(which);
    check_range(s, begin, end);
    const SideState& o = other(which);
    solve_side(which, begin, end, [&](long i, RowSolver& solver) {
      if (s.count[i] == 0) return false;  // q stays as it is: no data, and never read in training
      add_entries(s, o, i, solver);
      return true;
    });
  }

  void row_statistics(Side which, int begin, int end, double* stats) override {
    SideState& s = side(which);
    check_range(s, begin, end);
    const SideState& o = other(which);
    const size_t size = row_statistics_size(s.rank);
#pragma omp parallel num_threads(threads_)
    {
      RowSolver solver(s.rank);
#pragma omp for schedule(dynamic, 16)
      for (long i = begin; i < end; ++i) {
        double* out = stats + static_cast<size_t>(i - begin) * size;
        solver.begin();
        add_entries(s, o, i, solver);
        out[0] = static_cast<double>(s.offsets[i + 1] - s.offsets[i]);
        solver.packed_totals(out + 1);
      }
    }
  }

  void solve_rows_from(Side which, int begin, int end, const double* stats) override {
    SideState& s = side(which);
    check_range(s, begin, end);
    const size_t size = row_statistics_size(s.rank);
    solve_side(which, begin, end, [&](long i, RowSolver& solver) {
      const double* in = stats + static_cast<size_t>(i - begin) * size;
      if (in[0] == 0) return false;
      solver.set_packed_totals(in + 1);
      return true;
    });
  }

  std::vector<double> implicit_background(Side which) override {
    std::vector<double> p, b;
    background(other(which), p, b);
    return pack_background(side(which).dim, p, b);
  }

  void set_background(Side which, const std::vector<double>& packed) override {
    const int dim = side(which).dim;
    if (packed.size() != row_statistics_size(dim - 1) - 1)
      throw Error("internal: a background of the wrong size");
    Background& bg = given_background_[which == Side::kUsers ? 0 : 1];
    bg.p.assign(static_cast<size_t>(dim) * dim, 0.0);
    const double* in = packed.data();
    for (int a = 0; a < dim; ++a)
      for (int c = 0; c <= a; ++c)
        bg.p[static_cast<size_t>(a) * dim + c] = bg.p[static_cast<size_t>(c) * dim + a] = *in++;
    bg.b.assign(in, in + dim);
    bg.given = true;
  }

  void get_rows(Side which, int begin, int end, float* rows) override {
    const SideState& s = side(which);
    check_range(s, begin, end);
    for (long i = begin; i < end; ++i) {
      std::copy_n(s.mean(static_cast<int32_t>(i)), s.dim, rows);
      std::copy_n(&s.logsd[static_cast<size_t>(i) * s.stride], s.dim, rows + s.dim);
      rows += 2 * s.dim;
    }
  }

  void set_rows(Side which, int begin, int end, const float* rows) override {
    SideState& s = side(which);
    check_range(s, begin, end);
    for (long i = begin; i < end; ++i) {
      float* m = s.mean(static_cast<int32_t>(i));
      float* v = s.var(static_cast<int32_t>(i));
      float* w = &s.logsd[static_cast<size_t>(i) * s.stride];
      for (int k = 0; k < s.dim; ++k) {
        m[k] = rows[k];
        w[k] = rows[s.dim + k];
        v[k] = std::exp(2.0f * w[k]);  // as a solve writes it
      }
      rows += 2 * s.dim;
    }
  }

  void set_entry_counts(Side which, const std::vector<int32_t>& counts) override {
    SideState& s = side(which);
    if (counts.size() != static_cast<size_t>(s.n)) throw Error("internal: counts of the wrong size");
    s.count = counts;
  }

 private:
  struct Background {
    bool given = false;
    std::vector<double> p, b;  // dim x dim, dim
  };

  SideState& side(Side which) { return which == Side::kUsers ? users_ : items_; }
  const SideState& other(Side which) const { return which == Side::kUsers ? items_ : users_; }

  static void check_range(const SideState& s, long begin, long end) {
    if (s.offsets.empty()) throw Error("no training entries loaded");
    if (begin < 0 || end > s.n || begin > end) throw Error("row range outside the model");
  }

  static std::vector<double> pack_background(int dim, const std::vector<double>& p,
                                             const std::vector<double>& b) {
    std::vector<double> out;
    for (int a = 0; a < dim; ++a)
      for (int c = 0; c <= a; ++c) out.push_back(p[static_cast<size_t>(a) * dim + c]);
    out.insert(out.end(), b.begin(), b.end());
    return out;
  }

  // Row i's entries into `solver`, as its exact update sums them.
  void add_entries(const SideState& s, const SideState& o, long i, RowSolver& solver) const {
    if (zero_weight_ > 0) {
      // An entry of confidence c replaces the background's zero of weight w0 (entry_math).
      const float w0 = zero_weight_;
      for (size_t e = s.offsets[i]; e < s.offsets[i + 1]; ++e) {
        const float c = s.value[e];
        solver.add(o.mean(s.other[e]), o.var(s.other[e]), math::implicit_value(c, w0),
                   math::implicit_weight(c, w0));
      }
    } else {
      for (size_t e = s.offsets[i]; e < s.offsets[i + 1]; ++e)
        solver.add(o.mean(s.other[e]), o.var(s.other[e]), s.value[e] - mu0_);
    }
  }

  // Solves rows [begin, end) of a side: fill(i, solver) starts row i's statistics in `solver`
  // (after begin()) and returns false to leave the row as it is; the group prior (with the
  // implicit zeros' background when they are on) and the noise are added here.
  template <class Fill>
  void solve_side(Side which, long begin, long end, Fill&& fill) {
    SideState& s = side(which);
    const double inv_sigma2 = 1.0 / sigma2_;
    const int dim = s.dim;
    // Implicit zeros: every group's prior gains zero_weight times the other side's background.
    const bool implicit = zero_weight_ > 0;
    std::vector<double> prec, prec_mean;
    if (implicit) {
      const Background& given = given_background_[which == Side::kUsers ? 0 : 1];
      std::vector<double> bg_p, bg_b;
      if (given.given) {
        bg_p = given.p;
        bg_b = given.b;
      } else {
        background(other(which), bg_p, bg_b);
      }
      prec = s.priors.prec;
      prec_mean = s.priors.prec_mean;
      const size_t d2 = static_cast<size_t>(dim) * dim;
      for (size_t g = 0; g < static_cast<size_t>(s.priors.n_groups); ++g) {
        for (size_t k = 0; k < d2; ++k) prec[g * d2 + k] += zero_weight_ * bg_p[k];
        for (int k = 0; k < dim; ++k) prec_mean[g * dim + k] += zero_weight_ * bg_b[k];
      }
    }
    const double* group_prec = implicit ? prec.data() : s.priors.prec.data();
    const double* group_prec_mean = implicit ? prec_mean.data() : s.priors.prec_mean.data();
    bool failed = false;
#pragma omp parallel num_threads(threads_)
    {
      RowSolver solver(s.rank);
      const auto write = [&](int64_t i, const double* mean, const double* var, bool ok) {
        if (!ok) {
#pragma omp atomic write
          failed = true;
          return;
        }
        float* m = s.mean(static_cast<int32_t>(i));
        float* v = s.var(static_cast<int32_t>(i));
        float* w = &s.logsd[static_cast<size_t>(i) * s.stride];
        for (int k = 0; k < dim; ++k) {
          m[k] = static_cast<float>(mean[k]);
          w[k] = math::clamp_logsd(static_cast<float>(0.5 * std::log(var[k])));
          v[k] = std::exp(2.0f * w[k]);
        }
      };
#pragma omp for schedule(dynamic, 16)
      for (long i = begin; i < end; ++i) {
        solver.begin();
        if (!fill(i, solver)) continue;
        const size_t g = static_cast<size_t>(s.group[i]);
        solver.queue(inv_sigma2, &group_prec[g * dim * dim], &group_prec_mean[g * dim], i, write);
      }
      solver.flush(write);
    }
    if (failed)
      throw Error("an exact row solve met a precision that is not positive definite (non-finite "
                  "values in the model or the data?)");
  }

 public:
  // The implicit zeros' share of every row's system (see sum_side_as_zeros).
  void background(const SideState& o, std::vector<double>& p, std::vector<double>& b) const {
    sum_side_as_zeros(
        o.rank, o.n, threads_,
        [&](int j, RowSolver& solver) { solver.add(o.mean(j), o.var(j), 0.0f); }, p, b);
  }

  TrainPassStats train_pass() override {
    TrainPassStats st;
    st.n = users_.value.size();
    const auto sse = chunked_sum<2>(users_.n, threads_, [&](size_t b, size_t e, auto& acc) {
      for (size_t i = b; i < e; ++i) {
        for (size_t k = users_.offsets[i]; k < users_.offsets[i + 1]; ++k) {
          float mean, var;
          math::entry_moments(users_.mean(static_cast<int32_t>(i)),
                              users_.var(static_cast<int32_t>(i)), items_.mean(users_.other[k]),
                              items_.var(users_.other[k]), users_.rank, mean, var);
          const double err = users_.value[k] - mu0_ - mean;
          acc[0] += math::expected_sq_error(static_cast<float>(err), var);
          acc[1] += err * err;
        }
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
    const int dim = s.dim;
    GroupMoments gm;
    gm.reset(s.priors.n_groups, dim);
    for (int i = 0; i < s.n; ++i) {
      if (s.count[i] == 0) continue;  // q is its prior: carries no information about it
      const size_t g = static_cast<size_t>(s.group[i]);
      gm.count[g] += 1;
      const float* x = s.mean(i);
      const float* v = s.var(i);
      double* outer = &gm.sum_outer[g * dim * dim];
      for (int a = 0; a < dim; ++a) {
        gm.sum_mean[g * dim + a] += x[a];
        gm.sum_var[g * dim + a] += v[a];
        for (int b = 0; b <= a; ++b) outer[a * dim + b] += static_cast<double>(x[a]) * x[b];
      }
    }
    for (int g = 0; g < gm.n_groups; ++g) {
      double* outer = &gm.sum_outer[static_cast<size_t>(g) * dim * dim];
      for (int a = 0; a < dim; ++a)
        for (int b = 0; b < a; ++b) outer[b * dim + a] = outer[a * dim + b];
    }
    return gm;
  }

  void predict(const PairIndex* pairs, size_t n, float* mean, float* var) override {
    check_pairs(pairs, n, users_.extended_size(), items_.extended_size());
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (long k = 0; k < static_cast<long>(n); ++k) {
      predict_one(pairs[k].user, pairs[k].item, mean[k], var[k]);
      var[k] += sigma2_;
    }
  }

  void score_all_items(const int32_t* users, size_t n, float* mean, float* var) override {
    check_scored_users(users, n, users_.extended_size());
    // The item rows are transposed once (dimension-major) so score_block runs across items in SIMD
    // lanes; users x item blocks run in parallel, an item block (256 items) staying in L1/L2
    // across a block of users. predict_one is the reference (Recommend tests compare the two).
    constexpr size_t kUsers = 16, kItems = 256;
    const size_t items = static_cast<size_t>(items_.n);
    const int d = users_.rank;
    // 16 floats of slack: score_block reads whole 16-item groups past the last item.
    items_t_mean_.assign(static_cast<size_t>(d) * items + 16, 0.f);
    items_t_var_.assign(static_cast<size_t>(d) * items + 16, 0.f);
    item_bias_mean_.assign(items + 16, 0.f);
    item_bias_var_.assign(items + 16, 0.f);
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (long j = 0; j < static_cast<long>(items); ++j) {
      const float* m = items_.mean(static_cast<int32_t>(j));
      const float* v = items_.var(static_cast<int32_t>(j));
      for (int k = 0; k < d; ++k) {
        items_t_mean_[k * items + j] = m[k];
        items_t_var_[k * items + j] = v[k];
      }
      item_bias_mean_[j] = m[d];
      item_bias_var_[j] = v[d];
    }
    // Scores of the distinct prior rows among `users`, computed once each.
    std::vector<int32_t> prior_rows;
    for (size_t u = 0; u < n; ++u)
      if (users[u] >= users_.n &&
          std::find(prior_rows.begin(), prior_rows.end(), users[u]) == prior_rows.end())
        prior_rows.push_back(users[u]);
    prior_mean_.assign(prior_rows.size() * items, 0.f);
    prior_var_.assign(prior_rows.size() * items, 0.f);
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads_)
    for (long r = 0; r < static_cast<long>(prior_rows.size()); ++r)
      for (long j = 0; j < static_cast<long>(items); ++j) {
        const size_t at = static_cast<size_t>(r) * items + static_cast<size_t>(j);
        predict_one(prior_rows[r], static_cast<int32_t>(j), prior_mean_[at], prior_var_[at]);
        prior_var_[at] += sigma2_;
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
          float* mu = &mean[u * items + j0];
          float* vu = &var[u * items + j0];
          if (x >= users_.n) {
            const size_t r = static_cast<size_t>(
                std::find(prior_rows.begin(), prior_rows.end(), x) - prior_rows.begin());
            std::copy_n(&prior_mean_[r * items + j0], nj, mu);
            std::copy_n(&prior_var_[r * items + j0], nj, vu);
            continue;
          }
          const float* m = users_.mean(x);
          const float* v = users_.var(x);
          score_block(m, v, d, mu0_ + m[d], sigma2_ + v[d], &item_bias_mean_[j0],
                      &item_bias_var_[j0], &items_t_mean_[j0], &items_t_var_[j0], items, nj, mu,
                      vu);
        }
      }
    }
  }

  void store_guide(Model& model) override {
    rows_to_guide_side(users_, model.U);
    rows_to_guide_side(items_, model.V);
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

  double peak_flops() override {
    // All threads run multiply-add chains for ~0.2 s; best of 3.
    constexpr long kIterations = 10000000;
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) {
      float sink = 0;
      const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads_) reduction(+ : sink)
      sink += fma_chains(kIterations, 0.999999f, 1e-7f);
      const double sec =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      volatile float keep = sink;
      (void)keep;
      best = std::max(best, 2.0 * 128.0 * kIterations * threads_ / sec);
    }
    return best;
  }

 private:
  void index_training() {
    build_csr(users_, user_, item_, value_);
    build_csr(items_, item_, user_, value_);
  }

  // Mean and variance (noise excluded) of f - 0 for a pair of extended indices.
  void predict_one(int32_t u, int32_t i, float& mean, float& var) const {
    if (u < users_.n && i < items_.n)
      math::entry_moments(users_.mean(u), users_.var(u), items_.mean(i), items_.var(i),
                          users_.rank, mean, var);
    else
      math::entry_moments_general(users_.dist(u), items_.dist(i), users_.rank, mean, var);
    mean += mu0_;
  }

  double side_kl(const SideState& s) const {
    const int dim = s.dim;
    const auto kl =
        chunked_sum<1>(static_cast<size_t>(s.n), threads_, [&](size_t b, size_t e, auto& acc) {
          for (size_t i = b; i < e; ++i) {
            if (s.count[i] == 0) continue;
            const size_t g = static_cast<size_t>(s.group[i]);
            acc[0] += math::kl_to_prior(s.mean(static_cast<int32_t>(i)),
                                        s.var(static_cast<int32_t>(i)), &s.priors.mean[g * dim],
                                        &s.priors.prec[g * dim * dim], s.priors.log_det_prec[g],
                                        dim);
          }
        });
    return kl[0];
  }

  static void rows_to_guide_side(const SideState& s, GuideBlock& g) {
    std::vector<float> mean(static_cast<size_t>(s.n) * s.stride);
    for (int i = 0; i < s.n; ++i) std::copy_n(s.mean(i), s.stride, &mean[static_cast<size_t>(i) * s.stride]);
    rows_to_guide(mean.data(), s.logsd.data(), s.n, s.rank, s.stride, g);
  }

  int threads_;
  SideState users_, items_;
  float mu0_ = 0.f, sigma2_ = 1.f;
  float zero_weight_ = 0.f;  // implicit zeros (set_implicit); 0 = off
  Background given_background_[2];  // set_background, per side (users, items)
  std::vector<int32_t> user_, item_;
  std::vector<float> value_;
  std::vector<float> items_t_mean_, items_t_var_, item_bias_mean_, item_bias_var_;
  std::vector<float> prior_mean_, prior_var_;  // scores of prior rows (general path)
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace ppmf
