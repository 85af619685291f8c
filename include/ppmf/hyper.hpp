// Closed-form (MAP) updates of the pooled hyperparameters (docs/model.md, "Pooling"): each group's
// prior mean and full covariance over x = [u; alpha] from group sums of the guide's moments, the
// population mean M_0, and the noise variance from a full pass.
#pragma once

#include "ppmf/backend.hpp"
#include "ppmf/config.hpp"
#include "ppmf/model.hpp"

namespace ppmf {

// Updates `prior` in place from the moments (`iters` alternations of the mean / covariance / M_0
// updates).
void update_prior(const GroupMoments& moments, const ModelConfig& config, int iters,
                  PriorBlock& prior);

// The MAP noise variance: (b_s + sse_expected / 2) / (a_s - 1 + n / 2).
double update_noise(double sse_expected, size_t n, const ModelConfig& config);

// The objective that update_prior maximises (for tests): sum over groups of
// E_q[log N(x_i | M_g, cov_g)] + log N(M_g | M_0, tau^2 I) + log Wishart(cov_g^-1), up to constants.
double prior_objective(const GroupMoments& moments, const ModelConfig& config,
                       const PriorBlock& prior);

}  // namespace ppmf
