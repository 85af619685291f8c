// The exact row solve (see row_solver.hpp).
#include "row_solver.hpp"

#include <algorithm>
#include <cmath>

#include "multiversion.hpp"
#include "spd.hpp"

namespace ppmf {
namespace {

// One block of 8 entries (rows of ld floats; unused rows are zero): acc[a][0..a] += sum_e w_e[a]
// w_e[0..a] (each row's loop runs to a multiple of 8, into cells of the strict upper triangle that
// are never read, so it has no remainder), acc_b += sum_e t_e w_e, acc_diag += sum_e v_e.
PPMF_MULTIVERSION
void add_block(float* acc, float* acc_b, float* acc_diag, const float* block, const float* var,
               const float* t, int dim, int ld) {
  const float *w0 = block, *w1 = w0 + ld, *w2 = w1 + ld, *w3 = w2 + ld, *w4 = w3 + ld,
              *w5 = w4 + ld, *w6 = w5 + ld, *w7 = w6 + ld;
  for (int a = 0; a < dim; ++a) {
    float* row = acc + static_cast<size_t>(a) * ld;
    const float x0 = w0[a], x1 = w1[a], x2 = w2[a], x3 = w3[a], x4 = w4[a], x5 = w5[a],
                x6 = w6[a], x7 = w7[a];
    const int len = (a + 8) & ~7;
#pragma omp simd
    for (int b = 0; b < len; ++b)
      row[b] += x0 * w0[b] + x1 * w1[b] + x2 * w2[b] + x3 * w3[b] + x4 * w4[b] + x5 * w5[b] +
                x6 * w6[b] + x7 * w7[b];
  }
#pragma omp simd
  for (int k = 0; k < ld; ++k) {
    acc_b[k] += t[0] * w0[k] + t[1] * w1[k] + t[2] * w2[k] + t[3] * w3[k] + t[4] * w4[k] +
                t[5] * w5[k] + t[6] * w6[k] + t[7] * w7[k];
    float v = 0.f;
    for (int e = 0; e < 8; ++e) v += var[e * ld + k];
    acc_diag[k] += v;
  }
}

// The dense part of finish(): Cholesky of p (n x n, lower), the solve of `mean` in place, and the
// marginal variances (or the full covariance). Separate so that it is compiled per ISA level too.
PPMF_MULTIVERSION
bool factor_and_solve(double* p, int n, double* mean, double* var, double* cov, double* work) {
  if (!spd::cholesky(p, n)) return false;
  spd::solve(p, n, mean);
  if (cov != nullptr) {
    spd::inverse(p, n, cov, work);
    for (int a = 0; a < n; ++a) var[a] = cov[static_cast<size_t>(a) * n + a];
  } else {
    spd::inverse_diagonal(p, n, var, work);
  }
  return true;
}

// Every lane's system at once (see row_solver.hpp): P (lower, lane-interleaved) is factored in
// place, b becomes the mean, v the marginal variances; ok[l] is cleared where P is not positive
// definite. `w` holds n * n * kLanes doubles.
PPMF_MULTIVERSION
void solve_lanes(double* P, double* b, double* v, double* w, int n, char* ok) {
  constexpr int L = RowSolver::kLanes;
  const auto at = [n](int r, int c) { return (static_cast<size_t>(r) * n + c) * L; };
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      double s[L];
      double* pij = P + at(i, j);
#pragma omp simd
      for (int l = 0; l < L; ++l) s[l] = pij[l];
      for (int k = 0; k < j; ++k) {
        const double* x = P + at(i, k);
        const double* y = P + at(j, k);
#pragma omp simd
        for (int l = 0; l < L; ++l) s[l] -= x[l] * y[l];
      }
      if (j < i) {
        const double* d = P + at(j, j);
#pragma omp simd
        for (int l = 0; l < L; ++l) pij[l] = s[l] / d[l];
      } else {
        for (int l = 0; l < L; ++l) {
          const bool good = s[l] > 0 && std::isfinite(s[l]);
          ok[l] = static_cast<char>(ok[l] && good);
          pij[l] = std::sqrt(good ? s[l] : 1.0);
        }
      }
    }
  }
  // L y = b, then L^T x = y.
  for (int i = 0; i < n; ++i) {
    double* bi = b + static_cast<size_t>(i) * L;
    for (int k = 0; k < i; ++k) {
      const double* x = P + at(i, k);
      const double* bk = b + static_cast<size_t>(k) * L;
#pragma omp simd
      for (int l = 0; l < L; ++l) bi[l] -= x[l] * bk[l];
    }
    const double* d = P + at(i, i);
#pragma omp simd
    for (int l = 0; l < L; ++l) bi[l] /= d[l];
  }
  for (int i = n - 1; i >= 0; --i) {
    double* bi = b + static_cast<size_t>(i) * L;
    for (int k = i + 1; k < n; ++k) {
      const double* x = P + at(k, i);
      const double* bk = b + static_cast<size_t>(k) * L;
#pragma omp simd
      for (int l = 0; l < L; ++l) bi[l] -= x[l] * bk[l];
    }
    const double* d = P + at(i, i);
#pragma omp simd
    for (int l = 0; l < L; ++l) bi[l] /= d[l];
  }
  // Column c of W = L^-1, kept as row c of w: W[r][c] = -(sum_{c<=k<r} L[r][k] W[k][c]) / L[r][r];
  // the variance is sum_r W[r][c]^2.
  for (int c = 0; c < n; ++c) {
    double* vc = v + static_cast<size_t>(c) * L;
    double* wc = w + at(c, 0);
    const double* dc = P + at(c, c);
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      wc[c * L + l] = 1.0 / dc[l];
      vc[l] = wc[c * L + l] * wc[c * L + l];
    }
    for (int r = c + 1; r < n; ++r) {
      double s[L] = {};
      for (int k = c; k < r; ++k) {
        const double* x = P + at(r, k);
        const double* y = wc + static_cast<size_t>(k) * L;
#pragma omp simd
        for (int l = 0; l < L; ++l) s[l] += x[l] * y[l];
      }
      const double* d = P + at(r, r);
      double* wr = wc + static_cast<size_t>(r) * L;
#pragma omp simd
      for (int l = 0; l < L; ++l) {
        wr[l] = -s[l] / d[l];
        vc[l] += wr[l] * wr[l];
      }
    }
  }
}

}  // namespace

RowSolver::RowSolver(int rank)
    : rank_(rank), dim_(rank + 1), ld_((rank + 1 + 7) & ~7),
      block_(static_cast<size_t>(kBlock) * ld_, 0.f),
      block_var_(static_cast<size_t>(kBlock) * ld_, 0.f),
      block_t_(kBlock, 0.f),
      acc_(static_cast<size_t>(ld_) * ld_, 0.f),
      acc_b_(ld_, 0.f),
      acc_diag_(ld_, 0.f),
      p_(static_cast<size_t>(dim_) * dim_, 0.0),
      b_(dim_, 0.0),
      bp_(static_cast<size_t>(dim_) * dim_ * kLanes, 0.0),
      bb_(static_cast<size_t>(dim_) * kLanes, 0.0),
      bv_(static_cast<size_t>(dim_) * kLanes, 0.0),
      bw_(static_cast<size_t>(dim_) * dim_ * kLanes, 0.0),
      tags_(kLanes, 0),
      ok_(kLanes, 1),
      out_mean_(dim_),
      out_var_(dim_) {}

void RowSolver::begin() {
  pending_ = in_chunk_ = entries_ = 0;
  std::fill(acc_.begin(), acc_.end(), 0.f);
  std::fill(acc_b_.begin(), acc_b_.end(), 0.f);
  std::fill(acc_diag_.begin(), acc_diag_.end(), 0.f);
  std::fill(p_.begin(), p_.end(), 0.0);
  std::fill(b_.begin(), b_.end(), 0.0);
}

void RowSolver::add(const float* y_mean, const float* y_var, float value_minus_mu0) {
  float* w = &block_[static_cast<size_t>(pending_) * ld_];
  float* v = &block_var_[static_cast<size_t>(pending_) * ld_];
  std::copy_n(y_mean, rank_, w);
  std::copy_n(y_var, rank_, v);
  w[rank_] = 1.f;  // the bias column, whose variance stays 0
  block_t_[pending_] = value_minus_mu0 - y_mean[rank_];
  ++entries_;
  if (++pending_ == kBlock) flush_block();
}

void RowSolver::add(const float* y_mean, const float* y_var, float value_minus_mu0,
                    float weight) {
  float* w = &block_[static_cast<size_t>(pending_) * ld_];
  float* v = &block_var_[static_cast<size_t>(pending_) * ld_];
  // sqrt(weight) w w^T sqrt(weight) = weight w w^T; the same for t w and the variances.
  const float root = std::sqrt(weight);
  for (int k = 0; k < rank_; ++k) {
    w[k] = root * y_mean[k];
    v[k] = weight * y_var[k];
  }
  w[rank_] = root;
  block_t_[pending_] = root * (value_minus_mu0 - y_mean[rank_]);
  ++entries_;
  if (++pending_ == kBlock) flush_block();
}

void RowSolver::totals(double* p, double* b) {
  if (pending_ > 0) flush_block();
  flush_chunk();
  for (int a = 0; a < dim_; ++a) {
    for (int c = 0; c <= a; ++c)
      p[static_cast<size_t>(a) * dim_ + c] = p[static_cast<size_t>(c) * dim_ + a] =
          p_[static_cast<size_t>(a) * dim_ + c];
    b[a] = b_[a];
  }
}

void RowSolver::packed_totals(double* out) {
  if (pending_ > 0) flush_block();
  flush_chunk();
  for (int a = 0; a < dim_; ++a)
    for (int c = 0; c <= a; ++c) *out++ = p_[static_cast<size_t>(a) * dim_ + c];
  std::copy_n(b_.data(), dim_, out);
}

void RowSolver::set_packed_totals(const double* in) {
  begin();
  for (int a = 0; a < dim_; ++a)
    for (int c = 0; c <= a; ++c) p_[static_cast<size_t>(a) * dim_ + c] = *in++;
  std::copy_n(in, dim_, b_.data());
}

void RowSolver::flush_block() {
  // Unused rows of a partial block are zero, so they add nothing.
  const size_t used = static_cast<size_t>(pending_) * ld_;
  std::fill(block_.begin() + static_cast<long>(used), block_.end(), 0.f);
  std::fill(block_var_.begin() + static_cast<long>(used), block_var_.end(), 0.f);
  std::fill(block_t_.begin() + pending_, block_t_.end(), 0.f);
  add_block(acc_.data(), acc_b_.data(), acc_diag_.data(), block_.data(), block_var_.data(),
            block_t_.data(), dim_, ld_);
  in_chunk_ += pending_;
  pending_ = 0;
  if (in_chunk_ >= kChunk) flush_chunk();
}

void RowSolver::flush_chunk() {
  for (int a = 0; a < dim_; ++a) {
    for (int b = 0; b <= a; ++b) p_[static_cast<size_t>(a) * dim_ + b] += acc_[static_cast<size_t>(a) * ld_ + b];
    p_[static_cast<size_t>(a) * dim_ + a] += a < rank_ ? acc_diag_[a] : 0.f;
    b_[a] += acc_b_[a];
  }
  std::fill(acc_.begin(), acc_.end(), 0.f);
  std::fill(acc_b_.begin(), acc_b_.end(), 0.f);
  std::fill(acc_diag_.begin(), acc_diag_.end(), 0.f);
  in_chunk_ = 0;
}

bool RowSolver::finish(double inv_sigma2, const double* prior_prec,
                       const double* prior_prec_mean, double* mean, double* var, double* cov) {
  if (pending_ > 0) flush_block();
  flush_chunk();
  const int n = dim_;
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b <= a; ++b) {
      const size_t ab = static_cast<size_t>(a) * n + b;
      p_[ab] = p_[ab] * inv_sigma2 + prior_prec[ab];
    }
    mean[a] = b_[a] * inv_sigma2 + prior_prec_mean[a];
  }
  std::vector<double> work(static_cast<size_t>(n) * n);
  return factor_and_solve(p_.data(), n, mean, var, cov, work.data());
}

void RowSolver::stage(double inv_sigma2, const double* prior_prec, const double* prior_prec_mean,
                      int64_t tag) {
  if (pending_ > 0) flush_block();
  flush_chunk();
  const int n = dim_, l = queued_;
  for (int a = 0; a < n; ++a) {
    for (int c = 0; c <= a; ++c) {
      const size_t ac = static_cast<size_t>(a) * n + c;
      bp_[ac * kLanes + l] = p_[ac] * inv_sigma2 + prior_prec[ac];
    }
    bb_[static_cast<size_t>(a) * kLanes + l] = b_[a] * inv_sigma2 + prior_prec_mean[a];
  }
  tags_[l] = tag;
  ++queued_;
}

void RowSolver::solve_batch() {
  const int n = dim_;
  // Unused lanes hold the identity, so they factor cleanly and are ignored.
  for (int l = queued_; l < kLanes; ++l)
    for (int a = 0; a < n; ++a) {
      for (int c = 0; c <= a; ++c)
        bp_[(static_cast<size_t>(a) * n + c) * kLanes + l] = a == c ? 1.0 : 0.0;
      bb_[static_cast<size_t>(a) * kLanes + l] = 0.0;
    }
  std::fill(ok_.begin(), ok_.end(), 1);
  solve_lanes(bp_.data(), bb_.data(), bv_.data(), bw_.data(), n, ok_.data());
}

}  // namespace ppmf
