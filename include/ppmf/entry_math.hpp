// The per-entry and per-row formulas of the model (docs/model.md), in one place for the CPU
// backend and the CUDA kernels (host+device inline).
//
// Layout shared by both backends: a row of one side is x = [u; alpha] (rank factors, then the
// bias), `dim` = rank + 1 values padded to `stride`; its guide is N(mean, diag(var)). For an entry
// (i, j) the prediction is f = mu0 + u_i . v_j + alpha_i + beta_j.
#pragma once

#include "ppmf/common.hpp"

namespace ppmf::math {

constexpr double kLog2Pi = 1.8378770664093453;
constexpr double kZ90 = 1.6448536269514722;  // two-sided 90% normal quantile

// Contribution of one factor dimension to Var[f] (the variance of m_k n_k under q).
PPMF_HD float factor_variance_term(float m, float s2, float n, float t2) {
  return m * m * t2 + n * n * s2 + s2 * t2;
}

// E[f] - mu0 and Var[f] of an entry from the two rows' means and variances.
PPMF_HD void entry_moments(const float* x_mean, const float* x_var, const float* y_mean,
                           const float* y_var, int rank, float& mean, float& var) {
  float dot = 0.f, v = 0.f;
  for (int k = 0; k < rank; ++k) {
    dot += x_mean[k] * y_mean[k];
    v += factor_variance_term(x_mean[k], x_var[k], y_mean[k], y_var[k]);
  }
  mean = dot + x_mean[rank] + y_mean[rank];
  var = v + x_var[rank] + y_var[rank];
}

// A row's distribution for predictions: its mean (dim values) and either its diagonal variances
// (a trained row: cov == nullptr) or a full covariance (dim x dim, row-major: a prior row).
struct RowDist {
  const float* mean;
  const float* var;
  const float* cov;
};

// The quadratic form z^T Cov z with z = [z_0..z_{rank-1}; 1].
PPMF_HD float quad_with_one(const RowDist& x, const float* z, int rank) {
  const int dim = rank + 1;
  float q = 0.f;
  if (x.cov == nullptr) {
    for (int k = 0; k < rank; ++k) q += z[k] * z[k] * x.var[k];
    return q + x.var[rank];
  }
  for (int a = 0; a < dim; ++a) {
    const float za = a < rank ? z[a] : 1.f;
    float row = 0.f;
    for (int b = 0; b < dim; ++b) row += x.cov[a * dim + b] * (b < rank ? z[b] : 1.f);
    q += za * row;
  }
  return q;
}

// E[f] - mu0 and Var[f] for rows of any form (entry_moments is the diagonal special case):
//   Var[f] = y'^T Cov[x] y' + x'^T Cov[y] x' + tr(Cov[u] Cov[v]),  x' = [E u; 1], y' = [E v; 1].
PPMF_HD void entry_moments_general(const RowDist& x, const RowDist& y, int rank, float& mean,
                                   float& var) {
  const int dim = rank + 1;
  float dot = 0.f, trace = 0.f;
  for (int k = 0; k < rank; ++k) dot += x.mean[k] * y.mean[k];
  if (x.cov == nullptr || y.cov == nullptr) {
    for (int k = 0; k < rank; ++k) {
      const float xk = x.cov ? x.cov[k * dim + k] : x.var[k];
      const float yk = y.cov ? y.cov[k * dim + k] : y.var[k];
      trace += xk * yk;
    }
  } else {
    for (int a = 0; a < rank; ++a)
      for (int b = 0; b < rank; ++b) trace += x.cov[a * dim + b] * y.cov[b * dim + a];
  }
  mean = dot + x.mean[rank] + y.mean[rank];
  var = quad_with_one(x, y.mean, rank) + quad_with_one(y, x.mean, rank) + trace;
}

// E[(r - f)^2] given the residual of the means e = r - E[f] and Var[f].
PPMF_HD float expected_sq_error(float e, float var_f) {
  return e * e + var_f;
}

// One entry's contribution to the exact solve of row x given its counterpart y (see
// host/row_solver.hpp): the likelihood is quadratic in x with E[w w^T] = w w^T + diag(y_var, 0)
// and target t = r - mu0 - y_bias, where w = [y_mean; 1].
PPMF_HD float solve_target(float r, float mu0, float y_bias) {
  return r - mu0 - y_bias;
}

// The watch model's entry of confidence c, against the implicit zero of weight w0 that every pair
// already has (the background): precision c - w0 more, and the value that makes P mean gain
// c (1 - beta) + w0 beta = (c - w0) (c / (c - w0) - beta) (host/row_solver.hpp, weighted add).
PPMF_HD float implicit_weight(float c, float w0) {
  return c - w0;
}
PPMF_HD float implicit_value(float c, float w0) {
  return c / (c - w0);
}

// Gaussian negative log density of r under N(mean, var).
PPMF_HD double gaussian_nll(double r, double mean, double var) {
  const double d = r - mean;
  return 0.5 * (kLog2Pi + std::log(var) + d * d / var);
}

// KL(N(x, diag(var)) || N(M, P^-1)) for a prior with precision P (dim x dim, row-major) and
// log det P: 1/2 [tr(P diag(var)) + (x - M)^T P (x - M) - dim - log det P - sum log var].
PPMF_HD double kl_to_prior(const float* x, const float* var, const double* prior_mean,
                           const double* prec, double log_det_prec, int dim) {
  double trace = 0, quad = 0, log_var = 0;
  for (int a = 0; a < dim; ++a) {
    const double da = x[a] - prior_mean[a];
    double row = 0;
    for (int b = 0; b < dim; ++b) row += prec[a * dim + b] * (x[b] - prior_mean[b]);
    quad += da * row;
    trace += prec[a * dim + a] * var[a];
    log_var += std::log(static_cast<double>(var[a]));
  }
  return 0.5 * (trace + quad - dim - log_det_prec - log_var);
}

// Log-variances are kept in a range where they stay normal floats.
constexpr float kMinLogSd = -9.0f, kMaxLogSd = 3.0f;
PPMF_HD float clamp_logsd(float w) {
  w = w < kMinLogSd ? kMinLogSd : w;
  return w > kMaxLogSd ? kMaxLogSd : w;
}

}  // namespace ppmf::math
