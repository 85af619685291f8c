// The closed-form ELBO against Monte Carlo, every gradient of the CPU backend against finite
// differences of an independent double-precision ELBO, and the mini-batch estimator's mean over a
// partition against the full-batch gradient.
#include <gtest/gtest.h>

#include <cmath>

#include "cpu_backend.hpp"
#include "ppmf/common.hpp"
#include "test_util.hpp"

namespace ppmf {
namespace {

using testing::random_model;
using testing::reference_elbo;

class GradientTest : public ::testing::Test {
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

  void expect_block_matches(GuideBlock& params, const GuideBlock& grad, const char* side) {
    for (int i = 0; i < params.n; ++i) {
      for (int k = 0; k < params.stride; ++k) {
        const size_t at = static_cast<size_t>(i) * params.stride + k;
        if (k >= params.rank) {
          EXPECT_EQ(grad.mean[at], 0.f) << "padding must stay untouched";
          continue;
        }
        const double fd_mean = numeric(params.mean[at]);
        EXPECT_NEAR(grad.mean[at], fd_mean, 2e-3 * std::max(1.0, std::fabs(fd_mean)))
            << side << " mean " << i << "," << k;
        const double fd_logsd = numeric(params.logsd[at]);
        EXPECT_NEAR(grad.logsd[at], fd_logsd, 2e-3 * std::max(1.0, std::fabs(fd_logsd)))
            << side << " logsd " << i << "," << k;
      }
      const double fd_bias = numeric(params.bias_mean[i]);
      EXPECT_NEAR(grad.bias_mean[i], fd_bias, 2e-3 * std::max(1.0, std::fabs(fd_bias)))
          << side << " bias " << i;
      const double fd_bias_logsd = numeric(params.bias_logsd[i]);
      EXPECT_NEAR(grad.bias_logsd[i], fd_bias_logsd, 2e-3 * std::max(1.0, std::fabs(fd_bias_logsd)))
          << side << " bias logsd " << i;
    }
  }

  Ratings train_;
  Model model_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(GradientTest, FullBatchGradientMatchesFiniteDifferences) {
  GuideGradient g;
  backend_->gradient(0, train_.size(), 1.0f, g);
  expect_block_matches(model_.U, g.U, "user");
  expect_block_matches(model_.V, g.V, "item");
}

TEST_F(GradientTest, MiniBatchEstimatorAveragesToFullGradient) {
  GuideGradient full;
  backend_->gradient(0, train_.size(), 1.0f, full);
  const size_t n = train_.size(), batches = 4, size = n / batches;
  ASSERT_EQ(n % batches, 0u);
  backend_->shuffle(99);
  GuideGradient sum, part;
  sum.U.resize(model_.U.n, model_.rank());
  sum.V.resize(model_.V.n, model_.rank());
  for (size_t b = 0; b < batches; ++b) {
    backend_->gradient(b * size, (b + 1) * size, static_cast<float>(n) / size, part);
    for (auto [s, p] : {std::make_pair(&sum.U, &part.U), std::make_pair(&sum.V, &part.V)}) {
      for (size_t k = 0; k < s->mean.size(); ++k) {
        s->mean[k] += p->mean[k] / batches;
        s->logsd[k] += p->logsd[k] / batches;
      }
      for (size_t k = 0; k < s->bias_mean.size(); ++k) {
        s->bias_mean[k] += p->bias_mean[k] / batches;
        s->bias_logsd[k] += p->bias_logsd[k] / batches;
      }
    }
  }
  for (auto [s, f] : {std::make_pair(&sum.U, &full.U), std::make_pair(&sum.V, &full.V)}) {
    for (size_t k = 0; k < s->mean.size(); ++k) {
      EXPECT_NEAR(s->mean[k], f->mean[k], 1e-4 * std::max(1.0f, std::fabs(f->mean[k])));
      EXPECT_NEAR(s->logsd[k], f->logsd[k], 1e-4 * std::max(1.0f, std::fabs(f->logsd[k])));
    }
    for (size_t k = 0; k < s->bias_mean.size(); ++k) {
      EXPECT_NEAR(s->bias_mean[k], f->bias_mean[k],
                  1e-4 * std::max(1.0f, std::fabs(f->bias_mean[k])));
      EXPECT_NEAR(s->bias_logsd[k], f->bias_logsd[k],
                  1e-4 * std::max(1.0f, std::fabs(f->bias_logsd[k])));
    }
  }
}

TEST_F(GradientTest, TrainPassMatchesReferenceElbo) {
  const TrainPassStats st = backend_->train_pass();
  const double n = static_cast<double>(st.n);
  const double elbo = -0.5 * n * std::log(2 * M_PI * model_.sigma2) -
                      0.5 * st.sse_expected / model_.sigma2 - st.kl_users - st.kl_items;
  EXPECT_NEAR(elbo, reference_elbo(model_, train_), 1e-4 * std::fabs(elbo));
}

// Samples the guide and averages log p(r | sample) and log q - log p(prior): the closed forms
// must agree with both to within Monte Carlo error.
TEST_F(GradientTest, ClosedFormElboMatchesMonteCarlo) {
  const TrainPassStats st = backend_->train_pass();
  const double n = static_cast<double>(st.n);
  const double exact_loglik =
      -0.5 * n * std::log(2 * M_PI * model_.sigma2) - 0.5 * st.sse_expected / model_.sigma2;
  const double exact_kl = st.kl_users + st.kl_items;
  Rng rng(5);
  const int samples = 40000, d = model_.rank();
  double sum_ll = 0, sum_ll2 = 0, sum_kl = 0, sum_kl2 = 0;
  std::vector<double> u(model_.U.n * d), v(model_.V.n * d), a(model_.U.n), b(model_.V.n);
  auto draw = [&](const GuideBlock& g, std::vector<double>& f, std::vector<double>& bias,
                  const PriorBlock& p, const std::vector<int32_t>& group) {
    double log_ratio = 0;  // log q - log p at the sample
    auto add = [&](double x, double m, double w, double M, double L) {
      const double s = std::exp(w);
      log_ratio += -0.5 * std::log(2 * M_PI) - w - 0.5 * (x - m) * (x - m) / (s * s);
      log_ratio -= -0.5 * std::log(2 * M_PI) + 0.5 * std::log(L) - 0.5 * L * (x - M) * (x - M);
    };
    for (int i = 0; i < g.n; ++i) {
      const int gr = group[i];
      for (int k = 0; k < d; ++k) {
        const size_t at = static_cast<size_t>(i) * g.stride + k;
        f[i * d + k] = g.mean[at] + std::exp(g.logsd[at]) * rng.normal();
        add(f[i * d + k], g.mean[at], g.logsd[at], p.mean[gr * d + k], p.prec[gr * d + k]);
      }
      bias[i] = g.bias_mean[i] + std::exp(g.bias_logsd[i]) * rng.normal();
      add(bias[i], g.bias_mean[i], g.bias_logsd[i], p.bias_mean[gr], p.bias_prec[gr]);
    }
    return log_ratio;
  };
  for (int s = 0; s < samples; ++s) {
    const double kl = draw(model_.U, u, a, model_.user_prior, model_.user_groups.of) +
                      draw(model_.V, v, b, model_.item_prior, model_.item_groups.of);
    double ll = 0;
    for (size_t k = 0; k < train_.size(); ++k) {
      const int i = train_.user[k], j = train_.item[k];
      double f = model_.mu0 + a[i] + b[j];
      for (int c = 0; c < d; ++c) f += u[i * d + c] * v[j * d + c];
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

TEST_F(GradientTest, GradientIsIndependentOfThreadCount) {
  GuideGradient two, one;
  backend_->gradient(0, train_.size(), 1.0f, two);
  auto single = make_cpu_backend(1);
  single->load_model(model_);
  single->load_training(train_.user, train_.item, train_.value);
  single->gradient(0, train_.size(), 1.0f, one);
  EXPECT_EQ(two.U.mean, one.U.mean);
  EXPECT_EQ(two.V.logsd, one.V.logsd);
}

}  // namespace
}  // namespace ppmf
