// Closed-form pooling updates (CPU; the moments come from whichever backend trained).
// Each dimension (and the bias, as one more dimension) is independent: alternate
//   M_g = (L_g S1_g + M_0 / tau^2) / (L_g n_g + 1/tau^2),
//   L_g = (a0 - 1 + n_g/2) / (b0 + 1/2 sum_i [(m_i - M_g)^2 + s_i^2]),
//   M_0 = mean of M_g over non-empty groups,
// a coordinate ascent on the MAP objective (prior_objective). M_0 is the plain mean: every group
// mean has the same N(M_0, tau^2) prior, so that is its exact conditional optimum (DESIGN.md says
// "precision-weighted"; with one tau the weights are equal).
#include "ppmf/hyper.hpp"

#include <cmath>
#include <vector>

#include "ppmf/common.hpp"

namespace ppmf {
namespace {

struct DimView {
  // Sums for group g of one dimension.
  double n, s1, s2, sv;
};

// Updates means M (per group), precisions L and the population mean m0 for one dimension.
void update_dim(const std::vector<DimView>& sums, const ModelConfig& c, int iters, float* M,
                float* L, size_t step, float& m0) {
  const int groups = static_cast<int>(sums.size());
  const double inv_tau2 = 1.0 / (static_cast<double>(c.tau) * c.tau);
  double pop = m0;
  for (int it = 0; it < iters; ++it) {
    double pop_sum = 0;
    int non_empty = 0;
    for (int g = 0; g < groups; ++g) {
      const DimView& s = sums[g];
      double mean = M[g * step], prec = L[g * step];
      if (s.n == 0) {
        mean = pop;
        prec = (c.prec_a0 - 1.0 > 0 ? c.prec_a0 - 1.0 : 1e-3) / c.prec_b0;
      } else {
        mean = (prec * s.s1 + pop * inv_tau2) / (prec * s.n + inv_tau2);
        const double spread = s.s2 - 2.0 * mean * s.s1 + s.n * mean * mean + s.sv;
        prec = (c.prec_a0 - 1.0 + 0.5 * s.n) / (c.prec_b0 + 0.5 * std::max(spread, 0.0));
        pop_sum += mean;
        ++non_empty;
      }
      M[g * step] = static_cast<float>(mean);
      L[g * step] = static_cast<float>(prec);
    }
    if (non_empty > 0) pop = pop_sum / non_empty;
  }
  for (int g = 0; g < groups; ++g)
    if (sums[g].n == 0) M[g * step] = static_cast<float>(pop);  // an empty group is the population
  m0 = static_cast<float>(pop);
}

}  // namespace

void update_prior(const GroupMoments& mom, const ModelConfig& config, int iters,
                  PriorBlock& prior) {
  if (mom.n_groups != prior.n_groups || mom.rank != prior.rank)
    throw Error("group moments do not match the prior's shape");
  if (config.prec_a0 < 1.0f || config.prec_b0 <= 0.0f || config.tau <= 0.0f)
    throw Error("prior settings need prec_a0 >= 1, prec_b0 > 0 and tau > 0");
  const int G = prior.n_groups, d = prior.rank;
  std::vector<DimView> sums(G);
  for (int k = 0; k < d; ++k) {
    for (int g = 0; g < G; ++g) {
      const size_t at = static_cast<size_t>(g) * d + k;
      sums[g] = {mom.count[g], mom.sum_mean[at], mom.sum_sq_mean[at], mom.sum_var[at]};
    }
    update_dim(sums, config, iters, prior.mean.data() + k, prior.prec.data() + k, d,
               prior.pop_mean[k]);
  }
  for (int g = 0; g < G; ++g)
    sums[g] = {mom.count[g], mom.bias_sum[g], mom.bias_sum_sq[g], mom.bias_sum_var[g]};
  update_dim(sums, config, iters, prior.bias_mean.data(), prior.bias_prec.data(), 1,
             prior.pop_bias_mean);
}

double update_noise(double sse_expected, size_t n, const ModelConfig& c) {
  const double denom = c.noise_a - 1.0 + 0.5 * static_cast<double>(n);
  if (denom <= 0) throw Error("noise prior needs noise_a > 1 - n/2");
  return (c.noise_b + 0.5 * sse_expected) / denom;
}

double prior_objective(const GroupMoments& mom, const ModelConfig& c, const PriorBlock& prior,
                       int dim) {
  const bool bias = dim < 0;
  const double inv_tau2 = 1.0 / (static_cast<double>(c.tau) * c.tau);
  double total = 0;
  for (int g = 0; g < prior.n_groups; ++g) {
    const size_t at = static_cast<size_t>(g) * prior.rank + (bias ? 0 : dim);
    const double n = mom.count[g];
    const double s1 = bias ? mom.bias_sum[g] : mom.sum_mean[at];
    const double s2 = bias ? mom.bias_sum_sq[g] : mom.sum_sq_mean[at];
    const double sv = bias ? mom.bias_sum_var[g] : mom.sum_var[at];
    const double M = bias ? prior.bias_mean[g] : prior.mean[at];
    const double L = bias ? prior.bias_prec[g] : prior.prec[at];
    const double M0 = bias ? prior.pop_bias_mean : prior.pop_mean[dim];
    const double spread = s2 - 2 * M * s1 + n * M * M + sv;
    total += 0.5 * n * std::log(L) - 0.5 * L * spread;         // E_q log N(u | M, 1/L) + const
    total += -0.5 * (M - M0) * (M - M0) * inv_tau2;            // log N(M | M_0, tau^2) + const
    total += (c.prec_a0 - 1.0) * std::log(L) - c.prec_b0 * L;  // log Gamma(L | a0, b0) + const
  }
  return total;
}

}  // namespace ppmf
