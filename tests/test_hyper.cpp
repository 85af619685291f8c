// The closed-form pooling and noise updates against a numerical optimum of their objectives.
#include <gtest/gtest.h>

#include <cmath>

#include "ppmf/common.hpp"
#include "ppmf/hyper.hpp"

namespace ppmf {
namespace {

GroupMoments random_moments(Rng& rng, int groups, int d) {
  GroupMoments m;
  m.reset(groups, d);
  const double counts[] = {40, 3, 1, 0, 12};
  for (int g = 0; g < groups; ++g) {
    m.count[g] = counts[g % 5];
    auto fill = [&](double& s1, double& s2, double& sv) {
      for (int i = 0; i < m.count[g]; ++i) {
        const double x = 0.5 * rng.normal() + 0.2 * g, var = 0.05 + 0.1 * rng.uniform();
        s1 += x;
        s2 += x * x;
        sv += var;
      }
    };
    for (int k = 0; k < d; ++k)
      fill(m.sum_mean[g * d + k], m.sum_sq_mean[g * d + k], m.sum_var[g * d + k]);
    fill(m.bias_sum[g], m.bias_sum_sq[g], m.bias_sum_var[g]);
  }
  return m;
}

TEST(Hyper, PriorUpdateReachesTheObjectivesMaximum) {
  Rng rng(3);
  const int groups = 5, d = 3;
  const GroupMoments mom = random_moments(rng, groups, d);
  ModelConfig c;
  c.tau = 0.5f;
  PriorBlock p;
  p.reset(groups, d);
  update_prior(mom, c, 500, p);
  for (int dim = -1; dim < d; ++dim) {
    const double best = prior_objective(mom, c, p, dim);
    auto probe = [&](float& x, const char* what, int g) {
      for (double rel : {1e-3, -1e-3}) {
        const float keep = x;
        x = static_cast<float>(keep + rel * std::max(1.0f, std::fabs(keep)));
        EXPECT_LE(prior_objective(mom, c, p, dim), best + 1e-9 * std::fabs(best))
            << what << " group " << g << " dim " << dim;
        x = keep;
      }
    };
    for (int g = 0; g < groups; ++g) {
      probe(dim < 0 ? p.bias_mean[g] : p.mean[g * d + dim], "mean", g);
      probe(dim < 0 ? p.bias_prec[g] : p.prec[g * d + dim], "precision", g);
    }
    probe(dim < 0 ? p.pop_bias_mean : p.pop_mean[dim], "population mean", -1);
  }
}

TEST(Hyper, SmallGroupIsPulledToPopulation) {
  Rng rng(4);
  const GroupMoments mom = random_moments(rng, 5, 2);
  ModelConfig c;
  c.tau = 0.05f;  // groups tightly tied together
  PriorBlock p;
  p.reset(5, 2);
  update_prior(mom, c, 200, p);
  // Group 2 has one member: its mean sits much closer to M_0 than its member's value.
  const double member = mom.sum_mean[2 * 2 + 0];
  EXPECT_LT(std::fabs(p.mean[2 * 2 + 0] - p.pop_mean[0]), std::fabs(member - p.pop_mean[0]));
  // Empty group 3 takes the population mean and the prior's precision mode.
  EXPECT_FLOAT_EQ(p.mean[3 * 2 + 1], p.pop_mean[1]);
  EXPECT_FLOAT_EQ(p.prec[3 * 2 + 1], (c.prec_a0 - 1) / c.prec_b0);
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
  m.reset(1, 1);
  PriorBlock p;
  p.reset(1, 1);
  ModelConfig c;
  c.prec_a0 = 0.5f;
  EXPECT_THROW(update_prior(m, c, 1, p), Error);
}

}  // namespace
}  // namespace ppmf
