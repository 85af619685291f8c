// Small dense symmetric positive definite matrices in double, row-major n x n: Cholesky
// factorisation (lower triangle, in place), solves, the diagonal of the inverse, the inverse and the
// log-determinant. Used by the exact row solves, fold-in and the pooling updates. The CUDA solve
// kernel (kernels/row_solve.cu) is the parallel twin of cholesky / solve / inverse_diagonal.
//
// Every inner loop is a contiguous dot product, so it vectorises (omp simd reductions).
#pragma once

#include <cmath>
#include <vector>

namespace ppmf::spd {

inline double dot(const double* a, const double* b, int n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int k = 0; k < n; ++k) s += a[k] * b[k];
  return s;
}

// A = L L^T with L in the lower triangle of `a` (the strict upper triangle is left as it was).
// Returns false when A is not numerically positive definite.
inline bool cholesky(double* a, int n) {
  for (int i = 0; i < n; ++i) {
    double* ri = a + static_cast<size_t>(i) * n;
    for (int j = 0; j < i; ++j) {
      const double* rj = a + static_cast<size_t>(j) * n;
      ri[j] = (ri[j] - dot(ri, rj, j)) / rj[j];
    }
    const double d = ri[i] - dot(ri, ri, i);
    if (!(d > 0) || !std::isfinite(d)) return false;
    ri[i] = std::sqrt(d);
  }
  return true;
}

// Solves L L^T x = b in place.
inline void solve(const double* l, int n, double* b) {
  for (int i = 0; i < n; ++i) b[i] = (b[i] - dot(l + static_cast<size_t>(i) * n, b, i)) / l[i * n + i];
  for (int i = n - 1; i >= 0; --i) {
    double s = b[i];
    for (int k = i + 1; k < n; ++k) s -= l[static_cast<size_t>(k) * n + i] * b[k];
    b[i] = s / l[static_cast<size_t>(i) * n + i];
  }
}

// W = L^-1 stored transposed (wt[c * n + r] = W[r][c], r >= c), so each column of W is a
// contiguous row: W[r][c] = -(sum_{c <= k < r} L[r][k] W[k][c]) / L[r][r].
inline void inverse_factor_transposed(const double* l, int n, double* wt) {
  for (int c = 0; c < n; ++c) {
    double* w = wt + static_cast<size_t>(c) * n;
    for (int r = 0; r < c; ++r) w[r] = 0;
    w[c] = 1.0 / l[static_cast<size_t>(c) * n + c];
    for (int r = c + 1; r < n; ++r) {
      const double* lr = l + static_cast<size_t>(r) * n;
      w[r] = -dot(lr + c, w + c, r - c) / lr[r];
    }
  }
}

// diag((L L^T)^-1)_c = sum_r W[r][c]^2; `work` holds n * n doubles.
inline void inverse_diagonal(const double* l, int n, double* diag, double* work) {
  inverse_factor_transposed(l, n, work);
  for (int c = 0; c < n; ++c) {
    const double* w = work + static_cast<size_t>(c) * n;
    diag[c] = dot(w + c, w + c, n - c);
  }
}

// (L L^T)^-1 = W^T W in full; `work` holds n * n doubles.
inline void inverse(const double* l, int n, double* out, double* work) {
  inverse_factor_transposed(l, n, work);
  for (int a = 0; a < n; ++a)
    for (int b = 0; b <= a; ++b) {
      // (W^T W)[a][b] = sum_r W[r][a] W[r][b], r >= max(a, b) = a.
      const double v = dot(work + static_cast<size_t>(a) * n + a,
                           work + static_cast<size_t>(b) * n + a, n - a);
      out[static_cast<size_t>(a) * n + b] = out[static_cast<size_t>(b) * n + a] = v;
    }
}

inline double log_det(const double* l, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::log(l[static_cast<size_t>(i) * n + i]);
  return 2.0 * s;
}

// The inverse and log-determinant of an SPD matrix given in full (not overwritten); false when it
// is not positive definite.
inline bool invert(const double* a, int n, double* out, double* log_det_out = nullptr) {
  std::vector<double> l(a, a + static_cast<size_t>(n) * n), work(static_cast<size_t>(n) * n);
  if (!cholesky(l.data(), n)) return false;
  if (log_det_out) *log_det_out = log_det(l.data(), n);
  inverse(l.data(), n, out, work.data());
  return true;
}

}  // namespace ppmf::spd
