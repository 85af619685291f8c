// Closed-form pooling updates (CPU; the moments come from whichever backend trained).
//
// Per group g with n_g members and sums S1 = sum E[x_i], S2 = sum E[x_i] E[x_i]^T, SV = sum Var[x_i]
// (diagonal), alternate
//   M_g   = (n_g P_g + I / tau^2)^-1 (P_g S1 + M_0 / tau^2),            P_g = cov_g^-1,
//   cov_g = (2 b0 I + S(M_g)) / (2 (a0 - 1) + n_g),
//           S(M) = sum_i E[(x_i - M)(x_i - M)^T] = S2 - M S1^T - S1 M^T + n_g M M^T + diag(SV),
//   M_0   = the mean of the M_g over non-empty groups,
// a coordinate ascent on the MAP objective (prior_objective). The covariance update is the exact
// maximiser under a Wishart(2 a0 + rank, I / (2 b0)) prior on the precision P_g: on a diagonal
// precision it is the Gamma(a0, b0) update of a per-dimension precision. M_0 is the plain mean:
// every group mean has the same N(M_0, tau^2 I) prior, so that is its exact conditional optimum.
// An empty group takes M_0 and the hyperprior's mode, b0 / (a0 - 1) I.
#include "ppmf/hyper.hpp"

#include <cmath>
#include <vector>

#include "ppmf/common.hpp"
#include "spd.hpp"

namespace ppmf {
namespace {

// S(M) of one group into `scatter` (dim x dim).
void group_scatter(const GroupMoments& mom, int g, const double* M, std::vector<double>& scatter) {
  const int m = mom.dim;
  const double n = mom.count[g];
  const double* s1 = &mom.sum_mean[static_cast<size_t>(g) * m];
  const double* s2 = &mom.sum_outer[static_cast<size_t>(g) * m * m];
  const double* sv = &mom.sum_var[static_cast<size_t>(g) * m];
  scatter.resize(static_cast<size_t>(m) * m);
  for (int a = 0; a < m; ++a)
    for (int b = 0; b < m; ++b)
      scatter[a * m + b] = s2[a * m + b] - M[a] * s1[b] - s1[a] * M[b] + n * M[a] * M[b] +
                           (a == b ? sv[a] : 0.0);
}

}  // namespace

void update_prior(const GroupMoments& mom, const ModelConfig& c, int iters, PriorBlock& prior) {
  const int m = prior.dim(), G = prior.n_groups;
  if (mom.n_groups != G || mom.dim != m) throw Error("group moments do not match the prior's shape");
  if (c.prec_a0 < 1.0f || c.prec_b0 <= 0.0f || c.tau <= 0.0f)
    throw Error("prior settings need prec_a0 >= 1, prec_b0 > 0 and tau > 0");
  const double inv_tau2 = 1.0 / (static_cast<double>(c.tau) * c.tau);
  const double empty_var = c.prec_b0 / (c.prec_a0 > 1.0f ? c.prec_a0 - 1.0 : 1e-3);
  const size_t mm = static_cast<size_t>(m) * m;
  std::vector<double> pop(prior.pop_mean.begin(), prior.pop_mean.end());
  std::vector<double> mean(static_cast<size_t>(G) * m), cov(G * mm);
  for (size_t k = 0; k < mean.size(); ++k) mean[k] = prior.mean[k];
  for (size_t k = 0; k < cov.size(); ++k) cov[k] = prior.cov[k];
  std::vector<double> prec(mm), a(mm), rhs(m), scatter, work(mm);
  for (int it = 0; it < iters; ++it) {
    std::vector<double> pop_sum(m, 0.0);
    int non_empty = 0;
    for (int g = 0; g < G; ++g) {
      double* M = &mean[static_cast<size_t>(g) * m];
      double* C = &cov[g * mm];
      const double n = mom.count[g];
      if (n == 0) {
        for (int k = 0; k < m; ++k) M[k] = pop[k];
        for (size_t k = 0; k < mm; ++k) C[k] = 0;
        for (int k = 0; k < m; ++k) C[k * m + k] = empty_var;
        continue;
      }
      if (!spd::invert(C, m, prec.data())) throw Error("a group prior covariance became singular");
      // (n P + I / tau^2) M = P S1 + M_0 / tau^2
      const double* s1 = &mom.sum_mean[static_cast<size_t>(g) * m];
      for (int r = 0; r < m; ++r) {
        double ps1 = 0;
        for (int k = 0; k < m; ++k) {
          a[r * m + k] = n * prec[r * m + k] + (r == k ? inv_tau2 : 0.0);
          ps1 += prec[r * m + k] * s1[k];
        }
        rhs[r] = ps1 + pop[r] * inv_tau2;
      }
      if (!spd::cholesky(a.data(), m)) throw Error("the group mean update is singular");
      spd::solve(a.data(), m, rhs.data());
      for (int k = 0; k < m; ++k) M[k] = rhs[k];
      group_scatter(mom, g, M, scatter);
      const double denom = 2.0 * (c.prec_a0 - 1.0) + n;
      for (int r = 0; r < m; ++r)
        for (int k = 0; k < m; ++k)
          C[r * m + k] = (scatter[r * m + k] + (r == k ? 2.0 * c.prec_b0 : 0.0)) / denom;
      for (int k = 0; k < m; ++k) pop_sum[k] += M[k];
      ++non_empty;
    }
    if (non_empty > 0)
      for (int k = 0; k < m; ++k) pop[k] = pop_sum[k] / non_empty;
  }
  // An empty group is the population.
  for (int g = 0; g < G; ++g)
    if (mom.count[g] == 0)
      for (int k = 0; k < m; ++k) mean[static_cast<size_t>(g) * m + k] = pop[k];
  for (size_t k = 0; k < mean.size(); ++k) prior.mean[k] = static_cast<float>(mean[k]);
  // Exactly symmetric: the scatter's two triangles may differ in the last bits, and every reader
  // (the model file's check, the Cholesky factorisations) takes the covariance as symmetric.
  for (int g = 0; g < G; ++g)
    for (int r = 0; r < m; ++r)
      for (int k = 0; k < m; ++k)
        prior.cov[g * mm + r * m + k] = static_cast<float>(
            0.5 * (cov[g * mm + r * m + k] + cov[g * mm + k * m + r]));
  for (int k = 0; k < m; ++k) prior.pop_mean[k] = static_cast<float>(pop[k]);
}

double update_noise(double sse_expected, size_t n, const ModelConfig& c) {
  const double denom = c.noise_a - 1.0 + 0.5 * static_cast<double>(n);
  if (denom <= 0) throw Error("noise prior needs noise_a > 1 - n/2");
  return (c.noise_b + 0.5 * sse_expected) / denom;
}

double prior_objective(const GroupMoments& mom, const ModelConfig& c, const PriorBlock& prior) {
  const int m = prior.dim();
  const size_t mm = static_cast<size_t>(m) * m;
  const double inv_tau2 = 1.0 / (static_cast<double>(c.tau) * c.tau);
  std::vector<double> cov(mm), prec(mm), M(m), scatter;
  double total = 0;
  for (int g = 0; g < prior.n_groups; ++g) {
    for (size_t k = 0; k < mm; ++k) cov[k] = prior.cov_of(g)[k];
    for (int k = 0; k < m; ++k) M[k] = prior.mean_of(g)[k];
    double log_det_cov = 0;
    if (!spd::invert(cov.data(), m, prec.data(), &log_det_cov)) return -INFINITY;
    group_scatter(mom, g, M.data(), scatter);
    double trace_scatter = 0, trace_prec = 0, dist = 0;
    for (size_t k = 0; k < mm; ++k) trace_scatter += prec[k] * scatter[k];
    for (int k = 0; k < m; ++k) {
      trace_prec += prec[k * m + k];
      dist += (M[k] - prior.pop_mean[k]) * (M[k] - prior.pop_mean[k]);
    }
    const double n = mom.count[g];
    total += -0.5 * n * log_det_cov - 0.5 * trace_scatter;             // E_q log N(x | M, cov)
    total += -0.5 * dist * inv_tau2;                                   // log N(M | M_0, tau^2 I)
    total += -(c.prec_a0 - 1.0) * log_det_cov - c.prec_b0 * trace_prec;  // log Wishart(cov^-1)
  }
  return total;
}

}  // namespace ppmf
