// The closed-form pooling and noise updates against a numerical optimum of their objectives.
#include <gtest/gtest.h>

#include <cmath>

#include "ppmf/common.hpp"
#include "ppmf/hyper.hpp"

namespace ppmf {
namespace {

// Moments of groups with 40, 3, 1, 0 and 12 members whose values are correlated across
// dimensions (so the covariance update has off-diagonal work to do).
GroupMoments random_moments(Rng& rng, int groups, int dim) {
  GroupMoments m;
  m.reset(groups, dim);
  const double counts[] = {40, 3, 1, 0, 12};
  std::vector<double> x(dim);
  for (int g = 0; g < groups; ++g) {
    m.count[g] = counts[g % 5];
    for (int i = 0; i < m.count[g]; ++i) {
      const double shared = rng.normal();
      for (int k = 0; k < dim; ++k) {
        x[k] = 0.5 * rng.normal() + 0.3 * (k + 1) * shared + 0.2 * g;
        m.sum_mean[g * dim + k] += x[k];
        m.sum_var[g * dim + k] += 0.05 + 0.1 * rng.uniform();
      }
      for (int a = 0; a < dim; ++a)
        for (int b = 0; b < dim; ++b) m.sum_outer[(g * dim + a) * dim + b] += x[a] * x[b];
    }
  }
  return m;
}

TEST(Hyper, PriorUpdateReachesTheObjectivesMaximum) {
  Rng rng(3);
  const int groups = 5, d = 2, m = d + 1;
  const GroupMoments mom = random_moments(rng, groups, m);
  ModelConfig c;
  c.tau = 0.5f;
  PriorBlock p;
  p.reset(groups, d);
  update_prior(mom, c, 500, p);
  const double best = prior_objective(mom, c, p);
  ASSERT_TRUE(std::isfinite(best));
  // Any small move of a mean, a variance or a covariance (kept symmetric) lowers the objective.
  auto probe = [&](auto&& move, const std::string& what) {
    for (const double rel : {1e-3, -1e-3}) {
      PriorBlock q = p;
      move(q, rel);
      EXPECT_LE(prior_objective(mom, c, q), best + 1e-9 * std::fabs(best)) << what;
    }
  };
  for (int g = 0; g < groups; ++g) {
    for (int a = 0; a < m; ++a) {
      probe([&](PriorBlock& q, double rel) { q.mean[g * m + a] += rel; },
            "mean g" + std::to_string(g));
      for (int b = 0; b <= a; ++b)
        probe(
            [&](PriorBlock& q, double rel) {
              const float v = static_cast<float>(rel * std::sqrt(q.cov[(g * m + a) * m + a] *
                                                                 q.cov[(g * m + b) * m + b]));
              q.cov[(g * m + a) * m + b] += v;
              if (a != b) q.cov[(g * m + b) * m + a] += v;
            },
            "cov g" + std::to_string(g));
    }
  }
  for (int a = 0; a < m; ++a)
    probe([&](PriorBlock& q, double rel) { q.pop_mean[a] += rel; }, "population mean");
}

// With one dimension the covariance update is the Gamma(a0, b0) update of a precision.
TEST(Hyper, OneDimensionIsTheGammaUpdate) {
  GroupMoments mom;
  mom.reset(1, 1);
  mom.count[0] = 10;
  mom.sum_mean[0] = 4;
  mom.sum_outer[0] = 9;
  mom.sum_var[0] = 1.5;
  ModelConfig c;
  c.tau = 100.f;  // a single group: M_0 follows it, tau does not matter
  PriorBlock p;
  p.reset(1, 0);
  update_prior(mom, c, 200, p);
  const double M = 0.4, spread = 9 - 2 * M * 4 + 10 * M * M + 1.5;
  EXPECT_NEAR(p.mean[0], M, 1e-6);
  EXPECT_NEAR(1.0 / p.cov[0], (c.prec_a0 - 1 + 0.5 * 10) / (c.prec_b0 + 0.5 * spread), 1e-5);
}

TEST(Hyper, SmallGroupIsPulledToPopulation) {
  Rng rng(4);
  const GroupMoments mom = random_moments(rng, 5, 3);
  ModelConfig c;
  c.tau = 0.05f;  // groups tightly tied together
  PriorBlock p;
  p.reset(5, 2);
  update_prior(mom, c, 200, p);
  // Group 2 has one member: its mean sits much closer to M_0 than its member's value.
  const double member = mom.sum_mean[2 * 3 + 0];
  EXPECT_LT(std::fabs(p.mean[2 * 3 + 0] - p.pop_mean[0]), std::fabs(member - p.pop_mean[0]));
  // Empty group 3 takes the population mean and the hyperprior's mode b0 / (a0 - 1) I.
  EXPECT_FLOAT_EQ(p.mean[3 * 3 + 1], p.pop_mean[1]);
  EXPECT_FLOAT_EQ(p.cov_of(3)[1 * 3 + 1], c.prec_b0 / (c.prec_a0 - 1));
  EXPECT_FLOAT_EQ(p.cov_of(3)[0 * 3 + 1], 0.f);
  // The heavy group learned the correlation its members have.
  EXPECT_GT(p.cov_of(0)[0 * 3 + 1], 0.1f);
}

TEST(Hyper, NoiseUpdateMaximisesItsObjective) {
  ModelConfig c;
  const double sse = 1234.5;
  const size_t n = 1000;
  const double s2 = update_noise(sse, n, c);
  auto objective = [&](double sigma2) {  // log-lik + log Gamma prior on the precision
    const double prec = 1.0 / sigma2;
    return (c.noise_a - 1.0 + 0.5 * n) * std::log(prec) - prec * (c.noise_b + 0.5 * sse);
  };
  EXPECT_GT(objective(s2), objective(s2 * 1.001));
  EXPECT_GT(objective(s2), objective(s2 * 0.999));
  EXPECT_NEAR(s2, sse / n, 0.01 * sse / n);
}

TEST(Hyper, RejectsInvalidSettings) {
  GroupMoments m;
  m.reset(1, 2);
  PriorBlock p;
  p.reset(1, 1);
  ModelConfig c;
  c.prec_a0 = 0.5f;
  EXPECT_THROW(update_prior(m, c, 1, p), Error);
  GroupMoments wrong;
  wrong.reset(2, 2);
  c.prec_a0 = 2.0f;
  EXPECT_THROW(update_prior(wrong, c, 1, p), Error);
}

}  // namespace
}  // namespace ppmf
