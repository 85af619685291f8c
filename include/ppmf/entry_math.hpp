// The per-entry and per-row formulas of DESIGN.md section 3, in one place for the CPU backend and
// the CUDA kernels (host+device inline). Variances are passed, not log-sds: both backends cache
// s^2 = exp(2 w) per row so the entry loop does no exp().
//
// Conventions: e = r - mu0 - a_i - c_j - m_i . n_j is the residual of the means; "lik" gradients
// are of l_ij * sigma^2 = -E[(r - f)^2] / 2 (the 1/sigma^2 factor is applied once per row); "kl"
// gradients are of -KL_i (the KL of one entity's guide to its prior).
#pragma once

#include "ppmf/common.hpp"

namespace ppmf::math {

constexpr double kLog2Pi = 1.8378770664093453;
constexpr double kZ90 = 1.6448536269514722;  // two-sided 90% normal quantile

// Contribution of one dimension to E[(r - f)^2] beyond e^2 (the variance of m_k n_k under q).
PPMF_HD float factor_variance_term(float m, float s2, float n, float t2) {
  return m * m * t2 + n * n * s2 + s2 * t2;
}

// E[(r - f)^2] given e, the summed factor variance terms and the two bias variances.
PPMF_HD float expected_sq_error(float e, float factor_var, float p2, float q2) {
  return e * e + p2 + q2 + factor_var;
}

// d(-E[(r-f)^2]/2)/d m_k for the user side; the item side is the same with roles swapped.
PPMF_HD float lik_grad_mean(float e, float other_mean, float own_mean, float other_var) {
  return e * other_mean - own_mean * other_var;
}

// d(-E[(r-f)^2]/2)/d w_k, w = log s: -(n_k^2 + t_k^2) s_k^2.
PPMF_HD float lik_grad_logsd(float own_var, float other_mean, float other_var) {
  return -(other_mean * other_mean + other_var) * own_var;
}

// d(-E[(r-f)^2]/2)/d log p for a bias with variance p^2.
PPMF_HD float lik_grad_bias_logsd(float bias_var) {
  return -bias_var;
}

// d(-KL)/d m_k and d(-KL)/d w_k for a prior N(M_k, 1/L_k).
PPMF_HD float kl_grad_mean(float m, float prior_mean, float prior_prec) {
  return -prior_prec * (m - prior_mean);
}
PPMF_HD float kl_grad_logsd(float var, float prior_prec) {
  return 1.0f - prior_prec * var;
}

// KL of N(m, s^2) to N(M, 1/L) for one dimension (logsd = log s).
PPMF_HD double kl_term(double m, double logsd, double prior_mean, double prior_prec) {
  const double var = std::exp(2.0 * logsd);
  const double d = m - prior_mean;
  return 0.5 * (prior_prec * (var + d * d) - 1.0 - std::log(prior_prec) - 2.0 * logsd);
}

// Gaussian negative log density of r under N(mean, var).
PPMF_HD double gaussian_nll(double r, double mean, double var) {
  const double d = r - mean;
  return 0.5 * (kLog2Pi + std::log(var) + d * d / var);
}

// One Adam step on a single parameter (gradient ascent): returns the new value, updates moments.
struct AdamStep {
  float lr, beta1, beta2, eps, bias_corr1, bias_corr2;  // bias_corr = 1 - beta^t
};
PPMF_HD float adam_ascend(float x, float g, float& m1, float& m2, const AdamStep& a) {
  m1 = a.beta1 * m1 + (1.0f - a.beta1) * g;
  m2 = a.beta2 * m2 + (1.0f - a.beta2) * g * g;
  const float mhat = m1 / a.bias_corr1;
  const float vhat = m2 / a.bias_corr2;
  return x + a.lr * mhat / (std::sqrt(vhat) + a.eps);
}

// exp(x) for the variance cache, written so that compilers vectorise it (libm's expf is a scalar
// call, and floorf blocks GCC's vectoriser): 2^(x log2 e) split into 2^n * 2^f, a degree-6
// polynomial for 2^f on [-0.5, 0.5] (relative error < 2e-7), 2^n built in the exponent bits.
// Valid for -80 < x < 80 (log-variances here lie in [-18, 6]).
PPMF_HD float exp_vectorizable(float x) {
  const float t = x * 1.44269504088896341f;
  const int n = static_cast<int>(t + 128.5f) - 128;  // round to nearest without floorf
  const float f = t - static_cast<float>(n);
  float p = 1.5403530393381606e-4f;
  p = p * f + 1.3333558146428443e-3f;
  p = p * f + 9.6181291076284772e-3f;
  p = p * f + 5.5504108664821580e-2f;
  p = p * f + 2.4022650695910071e-1f;
  p = p * f + 6.9314718055994531e-1f;
  p = p * f + 1.0f;
  const int32_t scale_bits = (n + 127) * (1 << 23);
#if defined(__CUDA_ARCH__)
  return p * __int_as_float(scale_bits);
#else
  return p * __builtin_bit_cast(float, scale_bits);
#endif
}

// Log-sds are kept in a range where exp(2w) stays a normal float and the optimizer cannot run off.
constexpr float kMinLogSd = -9.0f, kMaxLogSd = 3.0f;
// Two one-sided selects: this form vectorises under GCC (nested ?: and fminf do not).
PPMF_HD float clamp_logsd(float w) {
  w = w < kMinLogSd ? kMinLogSd : w;
  return w > kMaxLogSd ? kMaxLogSd : w;
}

}  // namespace ppmf::math
