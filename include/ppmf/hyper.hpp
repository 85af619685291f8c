// Closed-form (MAP) updates of the pooled hyperparameters, DESIGN.md section 4: group means and
// precisions of each side from group sums of the guide's moments, the population mean M_0, and the
// noise variance from a full pass.
#pragma once

#include "ppmf/backend.hpp"
#include "ppmf/config.hpp"
#include "ppmf/model.hpp"

namespace ppmf {

// Updates `prior` in place from the moments (`iters` alternations of the M / L / M_0 updates).
void update_prior(const GroupMoments& moments, const ModelConfig& config, int iters,
                  PriorBlock& prior);

// The MAP noise variance: (b_s + sse_expected / 2) / (a_s - 1 + n / 2).
double update_noise(double sse_expected, size_t n, const ModelConfig& config);

// The objective that update_prior maximises for one dimension of one side (for tests):
// sum_g sum_i E_q[log N(u_ik | M_gk, 1/L_gk)] + sum_g log N(M_gk | M_0k, tau^2) + log Gamma(L_gk).
double prior_objective(const GroupMoments& moments, const ModelConfig& config,
                       const PriorBlock& prior, int dim);

}  // namespace ppmf
