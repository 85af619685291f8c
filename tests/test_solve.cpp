// The exact row solve against a dense posterior built independently; the CPU backend's sweeps
// against the ELBO (each solved row's mean is a stationary point of an independent double
// reference ELBO, by finite differences); the closed-form ELBO against Monte Carlo; determinism
// across thread counts and row ranges.
#include <gtest/gtest.h>

#include <cmath>

#include "cpu_backend.hpp"
#include "ppmf/common.hpp"
#include "row_solver.hpp"
#include "test_util.hpp"

namespace ppmf {
namespace {

using testing::dense_inverse;
using testing::random_model;
using testing::reference_elbo;

// A dense Gaussian posterior from entries (counterpart mean and variance rows, value - mu0) and a
// prior (mean, precision), built straight from the formulas of row_solver.hpp.
struct Dense {
  std::vector<double> mean, cov;
};
Dense dense_posterior(int rank, const std::vector<std::vector<float>>& y_mean,
                      const std::vector<std::vector<float>>& y_var, const std::vector<float>& r,
                      double sigma2, const std::vector<double>& prior_mean,
                      const std::vector<double>& prior_prec) {
  const int n = rank + 1;
  std::vector<double> P(prior_prec), b(n, 0.0);
  for (int a = 0; a < n; ++a)
    for (int c = 0; c < n; ++c) b[a] += prior_prec[a * n + c] * prior_mean[c];
  for (size_t e = 0; e < r.size(); ++e) {
    std::vector<double> w(n);
    for (int k = 0; k < rank; ++k) w[k] = y_mean[e][k];
    w[rank] = 1;
    const double t = r[e] - y_mean[e][rank];
    for (int a = 0; a < n; ++a) {
      for (int c = 0; c < n; ++c)
        P[a * n + c] += (w[a] * w[c] + (a == c && a < rank ? y_var[e][a] : 0.0)) / sigma2;
      b[a] += t * w[a] / sigma2;
    }
  }
  Dense out;
  out.cov = dense_inverse(P, n);
  out.mean.assign(n, 0.0);
  for (int a = 0; a < n; ++a)
    for (int c = 0; c < n; ++c) out.mean[a] += out.cov[a * n + c] * b[c];
  return out;
}

// Ranks that are not multiples of the padding, a biases-only row, and enough entries to cross the
// solver's 8-entry blocks and 512-entry float chunks.
TEST(RowSolver, EqualsTheDensePosterior) {
  Rng rng(3);
  for (const auto& [rank, entries] : {std::pair{3, 5}, std::pair{7, 1300}, std::pair{0, 9},
                                     std::pair{1, 1}, std::pair{12, 0}}) {
    const int n = rank + 1;
    std::vector<std::vector<float>> y_mean(entries), y_var(entries);
    std::vector<float> r(entries);
    for (int e = 0; e < entries; ++e) {
      for (int k = 0; k < n; ++k) {
        y_mean[e].push_back(static_cast<float>(0.7 * rng.normal()));
        y_var[e].push_back(static_cast<float>(0.05 + 0.2 * rng.uniform()));
      }
      r[e] = static_cast<float>(1.0 + rng.normal());
    }
    PriorBlock prior;
    prior.reset(1, rank);
    testing::random_prior(prior, 0, rng);
    std::vector<double> prior_mean(prior.mean_of(0), prior.mean_of(0) + n);
    const std::vector<double> prior_prec =
        dense_inverse(std::vector<double>(prior.cov_of(0), prior.cov_of(0) + n * n), n);
    const double sigma2 = 0.6;
    const Dense want = dense_posterior(rank, y_mean, y_var, r, sigma2, prior_mean, prior_prec);

    std::vector<double> prec_mean(n, 0.0);
    for (int a = 0; a < n; ++a)
      for (int c = 0; c < n; ++c) prec_mean[a] += prior_prec[a * n + c] * prior_mean[c];
    RowSolver solver(rank);
    solver.begin();
    for (int e = 0; e < entries; ++e) solver.add(y_mean[e].data(), y_var[e].data(), r[e]);
    EXPECT_EQ(solver.entries(), entries);
    std::vector<double> mean(n), var(n), cov(n * n);
    ASSERT_TRUE(solver.finish(1 / sigma2, prior_prec.data(), prec_mean.data(), mean.data(),
                              var.data(), cov.data()));
    for (int a = 0; a < n; ++a) {
      EXPECT_NEAR(mean[a], want.mean[a], 2e-5 * std::max(1.0, std::fabs(want.mean[a])))
          << "rank " << rank << " mean " << a;
      EXPECT_NEAR(var[a], want.cov[a * n + a], 2e-5 * want.cov[a * n + a]) << "rank " << rank;
      for (int c = 0; c < n; ++c)
        EXPECT_NEAR(cov[a * n + c], want.cov[a * n + c], 2e-5 * std::sqrt(var[a] * var[c]));
    }
    // The marginal variances alone (the training path) equal the covariance's diagonal.
    solver.begin();
    for (int e = 0; e < entries; ++e) solver.add(y_mean[e].data(), y_var[e].data(), r[e]);
    std::vector<double> mean2(n), var2(n);
    ASSERT_TRUE(solver.finish(1 / sigma2, prior_prec.data(), prec_mean.data(), mean2.data(),
                              var2.data()));
    for (int a = 0; a < n; ++a) {
      EXPECT_EQ(mean2[a], mean[a]);
      EXPECT_NEAR(var2[a], var[a], 1e-12 * var[a]);
    }
  }
}

TEST(RowSolver, RefusesAPrecisionThatIsNotPositiveDefinite) {
  RowSolver solver(2);
  solver.begin();
  const std::vector<double> prec{-1, 0, 0, 0, 1, 0, 0, 0, 1}, prec_mean(3, 0.0);
  std::vector<double> mean(3), var(3);
  EXPECT_FALSE(solver.finish(1.0, prec.data(), prec_mean.data(), mean.data(), var.data()));
}

class SweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Rank 3 (not a multiple of the 4-float padding), 6 users in 2 groups, 5 items, 24 entries.
    train_ = testing::planted_ratings(6, 5, 2, 4, 0.5, 11);
    model_ = random_model(train_, 3, 2, 12);
    backend_ = make_cpu_backend(2);
    backend_->load_model(model_);
    backend_->load_training(train_.user, train_.item, train_.value);
  }

  // Central difference of the reference ELBO in one float parameter.
  double numeric(float& param) {
    const float x = param, h = 1e-3f;
    param = x + h;
    const float up = param;
    const double f_up = reference_elbo(model_, train_);
    param = x - h;
    const float down = param;
    const double f_down = reference_elbo(model_, train_);
    param = x;
    return (f_up - f_down) / (static_cast<double>(up) - down);
  }

  // Largest |d ELBO / d mean| over the rows of one side (factors and bias).
  double largest_mean_gradient(GuideBlock& g) {
    double worst = 0;
    for (int i = 0; i < g.n; ++i) {
      for (int k = 0; k < g.rank; ++k)
        worst = std::max(worst, std::fabs(numeric(g.mean[static_cast<size_t>(i) * g.stride + k])));
      worst = std::max(worst, std::fabs(numeric(g.bias_mean[i])));
    }
    return worst;
  }

  Ratings train_;
  Model model_;
  std::unique_ptr<Backend> backend_;
};

// The solve sets each row's mean to the exact maximiser of the ELBO in that row given the rest:
// the ELBO's gradient in the solved rows' means vanishes, where before it was large.
TEST_F(SweepTest, SolvedMeansAreStationaryPointsOfTheElbo) {
  for (const Side side : {Side::kUsers, Side::kItems}) {
    GuideBlock& g = side == Side::kUsers ? model_.U : model_.V;
    const double before = largest_mean_gradient(g);
    backend_->solve_rows(side, 0, g.n);
    backend_->store_guide(model_);
    const double after = largest_mean_gradient(g);
    EXPECT_GT(before, 1.0) << "the random model is far from the optimum";
    EXPECT_LT(after, 2e-3 * before) << (side == Side::kUsers ? "users" : "items");
  }
}

// The variances the guide keeps are the marginals of the row's exact conditional posterior.
TEST_F(SweepTest, SolvedRowIsTheDenseConditionalPosterior) {
  backend_->solve_rows(Side::kUsers, 0, model_.U.n);
  Model solved = model_;
  backend_->store_guide(solved);
  const int d = model_.rank(), n = d + 1;
  for (int i = 0; i < model_.U.n; ++i) {
    std::vector<std::vector<float>> y_mean, y_var;
    std::vector<float> r;
    for (size_t e = 0; e < train_.size(); ++e) {
      if (train_.user[e] != i) continue;
      const int j = train_.item[e];
      std::vector<float> m(n), v(n);
      for (int k = 0; k < d; ++k) {
        m[k] = model_.V.mean[static_cast<size_t>(j) * model_.V.stride + k];
        v[k] = std::exp(2.0f * model_.V.logsd[static_cast<size_t>(j) * model_.V.stride + k]);
      }
      m[d] = model_.V.bias_mean[j];
      y_mean.push_back(m);
      y_var.push_back(v);
      r.push_back(train_.value[e] - model_.mu0);
    }
    const int g = model_.user_groups.of[i];
    const std::vector<double> prior_mean(model_.user_prior.mean_of(g),
                                         model_.user_prior.mean_of(g) + n);
    const std::vector<double> prior_prec = dense_inverse(
        std::vector<double>(model_.user_prior.cov_of(g), model_.user_prior.cov_of(g) + n * n), n);
    const Dense want = dense_posterior(d, y_mean, y_var, r, model_.sigma2, prior_mean, prior_prec);
    for (int k = 0; k <= d; ++k) {
      const float mean = k < d ? solved.U.mean[static_cast<size_t>(i) * solved.U.stride + k]
                               : solved.U.bias_mean[i];
      const float logsd = k < d ? solved.U.logsd[static_cast<size_t>(i) * solved.U.stride + k]
                                : solved.U.bias_logsd[i];
      EXPECT_NEAR(mean, want.mean[k], 1e-4 * std::max(1.0, std::fabs(want.mean[k])));
      EXPECT_NEAR(std::exp(2.0 * logsd), want.cov[k * n + k], 1e-4 * want.cov[k * n + k]);
    }
  }
}

TEST_F(SweepTest, TrainPassMatchesReferenceElbo) {
  const TrainPassStats st = backend_->train_pass();
  const double n = static_cast<double>(st.n);
  const double elbo = -0.5 * n * std::log(2 * M_PI * model_.sigma2) -
                      0.5 * st.sse_expected / model_.sigma2 - st.kl_users - st.kl_items;
  EXPECT_NEAR(elbo, reference_elbo(model_, train_), 1e-4 * std::fabs(elbo));
}

// Samples the guide and averages log p(r | sample) and log q - log p(prior): the closed forms
// must agree with both to within Monte Carlo error.
TEST_F(SweepTest, ClosedFormElboMatchesMonteCarlo) {
  const TrainPassStats st = backend_->train_pass();
  const double n = static_cast<double>(st.n);
  const double exact_loglik =
      -0.5 * n * std::log(2 * M_PI * model_.sigma2) - 0.5 * st.sse_expected / model_.sigma2;
  const double exact_kl = st.kl_users + st.kl_items;
  Rng rng(5);
  const int samples = 40000, d = model_.rank(), m = d + 1;
  double sum_ll = 0, sum_ll2 = 0, sum_kl = 0, sum_kl2 = 0;
  std::vector<double> x_user(model_.U.n * m), x_item(model_.V.n * m);
  // Per group of each side: the prior's inverse covariance and log determinant.
  auto inverses = [&](const PriorBlock& p, std::vector<std::vector<double>>& inv,
                      std::vector<double>& log_det) {
    for (int g = 0; g < p.n_groups; ++g) {
      log_det.emplace_back();
      inv.push_back(
          dense_inverse(std::vector<double>(p.cov_of(g), p.cov_of(g) + m * m), m, &log_det.back()));
    }
  };
  std::vector<std::vector<double>> user_inv, item_inv;
  std::vector<double> user_log_det, item_log_det;
  inverses(model_.user_prior, user_inv, user_log_det);
  inverses(model_.item_prior, item_inv, item_log_det);
  auto draw = [&](const GuideBlock& g, std::vector<double>& x, const PriorBlock& p,
                  const std::vector<int32_t>& group, const std::vector<std::vector<double>>& inv,
                  const std::vector<double>& log_det) {
    double log_ratio = 0;  // log q - log p at the sample
    for (int i = 0; i < g.n; ++i) {
      const int gr = group[i];
      double quad = 0;
      for (int k = 0; k < m; ++k) {
        const double mean = k < d ? g.mean[static_cast<size_t>(i) * g.stride + k] : g.bias_mean[i];
        const double w = k < d ? g.logsd[static_cast<size_t>(i) * g.stride + k] : g.bias_logsd[i];
        const double z = rng.normal();
        x[i * m + k] = mean + std::exp(w) * z;
        log_ratio += -0.5 * std::log(2 * M_PI) - w - 0.5 * z * z;
      }
      for (int a = 0; a < m; ++a)
        for (int b = 0; b < m; ++b)
          quad += (x[i * m + a] - p.mean_of(gr)[a]) * inv[gr][a * m + b] *
                  (x[i * m + b] - p.mean_of(gr)[b]);
      log_ratio -= -0.5 * (m * std::log(2 * M_PI) + log_det[gr] + quad);
    }
    return log_ratio;
  };
  for (int s = 0; s < samples; ++s) {
    const double kl =
        draw(model_.U, x_user, model_.user_prior, model_.user_groups.of, user_inv, user_log_det) +
        draw(model_.V, x_item, model_.item_prior, model_.item_groups.of, item_inv, item_log_det);
    double ll = 0;
    for (size_t k = 0; k < train_.size(); ++k) {
      const int i = train_.user[k], j = train_.item[k];
      double f = model_.mu0 + x_user[i * m + d] + x_item[j * m + d];
      for (int c = 0; c < d; ++c) f += x_user[i * m + c] * x_item[j * m + c];
      const double e = train_.value[k] - f;
      ll += -0.5 * std::log(2 * M_PI * model_.sigma2) - 0.5 * e * e / model_.sigma2;
    }
    sum_ll += ll;
    sum_ll2 += ll * ll;
    sum_kl += kl;
    sum_kl2 += kl * kl;
  }
  const double mean_ll = sum_ll / samples,
               se_ll = std::sqrt((sum_ll2 / samples - mean_ll * mean_ll) / samples);
  const double mean_kl = sum_kl / samples,
               se_kl = std::sqrt((sum_kl2 / samples - mean_kl * mean_kl) / samples);
  EXPECT_NEAR(mean_ll, exact_loglik, 4 * se_ll);
  EXPECT_NEAR(mean_kl, exact_kl, 4 * se_kl);
  EXPECT_GT(se_ll, 0);
}

// Rows are solved independently: one thread over the whole side and two threads over uneven
// ranges give the same bits.
TEST_F(SweepTest, SweepsAreIndependentOfThreadsAndRanges) {
  auto single = make_cpu_backend(1);
  single->load_model(model_);
  single->load_training(train_.user, train_.item, train_.value);
  single->solve_rows(Side::kUsers, 0, model_.U.n);
  single->solve_rows(Side::kItems, 0, model_.V.n);
  for (const auto& [b, e] : {std::pair{0, 1}, std::pair{1, 4}, std::pair{4, 6}})
    backend_->solve_rows(Side::kUsers, b, e);
  backend_->solve_rows(Side::kItems, 0, 2);
  backend_->solve_rows(Side::kItems, 2, model_.V.n);
  Model a = model_, b = model_;
  single->store_guide(a);
  backend_->store_guide(b);
  EXPECT_EQ(a.U.mean, b.U.mean);
  EXPECT_EQ(a.U.logsd, b.U.logsd);
  EXPECT_EQ(a.V.bias_mean, b.V.bias_mean);
  EXPECT_EQ(a.V.bias_logsd, b.V.bias_logsd);
  EXPECT_NE(a.U.mean, model_.U.mean);
  EXPECT_THROW(backend_->solve_rows(Side::kUsers, 3, model_.U.n + 1), Error);
  EXPECT_THROW(backend_->solve_rows(Side::kItems, -1, 2), Error);
}

}  // namespace
}  // namespace ppmf
