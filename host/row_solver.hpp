// The exact conditional posterior of one row x = [u; alpha] (dim = rank + 1) given its entries'
// counterparts: the core of training (every row of one side per half-sweep), fold-in and warm
// start. CUDA twin: kernels/row_solve.cu.
//
// Given the counterparts' guides q(y_e) = N(y_mean, diag(y_var)) with y = [v; beta], the expected
// log-likelihood of the row's entries is quadratic in x:
//   -1/(2 sigma^2) sum_e [ x^T E[w_e w_e^T] x - 2 t_e w_e^T x ] + const,
//   w_e = [v_mean; 1],  E[w w^T] = w w^T + diag(v_var, 0),  t_e = r_e - mu0 - beta_mean,
// so with a prior N(M, P0^-1) the posterior is Gaussian with precision and mean
//   P = P0 + sigma^-2 sum_e E[w_e w_e^T],   P mean = P0 M + sigma^-2 sum_e t_e w_e.
// The guide keeps the mean and the marginal variances diag(P^-1) (the full covariance on request).
//
// Accumulation: entries are buffered in blocks of 8 and added to a float lower triangle (one
// load/store of each cell per 8 multiply-adds, vectorised along rows); every 512 entries the float
// sums are added into double, so rows with millions of entries keep their precision.
//
// Solves run in double, kLanes rows at a time with the rows side by side in SIMD lanes (every
// operation of the Cholesky factorisation, the two triangular solves and the diagonal of the
// inverse is then a lane-wise vector operation, with no horizontal sums): queue() a row's system,
// and flush() solves the queue, which queue() also does when it is full.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ppmf {

class RowSolver {
 public:
  static constexpr int kLanes = 8;

  explicit RowSolver(int rank);

  // Starts a new row (zero statistics).
  void begin();
  // One entry: the counterpart's mean and variance rows (dim values: factors, then the bias) and
  // the observed value minus mu0.
  void add(const float* y_mean, const float* y_var, float value_minus_mu0);
  // The same entry counted with precision `weight` (instead of 1): P gains weight E[w w^T] and
  // P mean gains weight t w. For the watch model's confidence-weighted entries.
  void add(const float* y_mean, const float* y_var, float value_minus_mu0, float weight);
  int entries() const { return entries_; }

  // The statistics of the current row so far, without any prior: P (dim x dim, both triangles)
  // and P mean, in double. Used to sum a whole side (the watch model's background of implicit
  // zeros) with the same accumulation as a row.
  void totals(double* p, double* b);

  // The same statistics packed as distributed training exchanges them: the lower triangle of P
  // row by row (dim (dim + 1) / 2 values), then P mean (dim). set_packed_totals makes the
  // current row's statistics those (summed over ranks), to be solved by finish() or queue().
  void packed_totals(double* out);
  void set_packed_totals(const double* in);

  // The posterior of the current row under a prior with precision `prior_prec` (dim x dim) and
  // `prior_prec_mean` (P0 M), solved at once: writes mean and marginal variances (dim each) and,
  // when `cov` is given, the full covariance (dim x dim). Returns false when the precision is not
  // positive definite. (Any queued rows are solved first.)
  bool finish(double inv_sigma2, const double* prior_prec, const double* prior_prec_mean,
              double* mean, double* var, double* cov = nullptr);

  // The same system queued under `tag`, to be solved with others (marginal variances only).
  // done(tag, mean, var, ok) receives each solved row (dim doubles each) when its batch is solved.
  template <class Done>
  void queue(double inv_sigma2, const double* prior_prec, const double* prior_prec_mean,
             int64_t tag, Done&& done) {
    stage(inv_sigma2, prior_prec, prior_prec_mean, tag);
    if (queued_ == kLanes) flush(done);
  }
  template <class Done>
  void flush(Done&& done) {
    if (queued_ == 0) return;
    solve_batch();
    std::vector<double>& mean = out_mean_;
    std::vector<double>& var = out_var_;
    for (int l = 0; l < queued_; ++l) {
      for (int k = 0; k < dim_; ++k) {
        mean[k] = bb_[static_cast<size_t>(k) * kLanes + l];
        var[k] = bv_[static_cast<size_t>(k) * kLanes + l];
      }
      done(tags_[l], mean.data(), var.data(), ok_[l] != 0);
    }
    queued_ = 0;
  }

 private:
  static constexpr int kBlock = 8, kChunk = 512;
  void flush_block();
  void flush_chunk();
  // The current row's P (lower) and b, with the prior, into lane `queued_`.
  void stage(double inv_sigma2, const double* prior_prec, const double* prior_prec_mean,
             int64_t tag);
  void solve_batch();

  int rank_, dim_, ld_;
  int pending_ = 0, in_chunk_ = 0, entries_ = 0;
  std::vector<float> block_;      // kBlock rows of ld_: pending w vectors
  std::vector<float> block_var_;  // kBlock rows of ld_: their variances (0 at the bias)
  std::vector<float> block_t_;    // kBlock targets
  std::vector<float> acc_;       // ld_ x ld_ lower triangle of sum w w^T (float, current chunk)
  std::vector<float> acc_b_;     // sum t w (float, current chunk)
  std::vector<float> acc_diag_;  // sum of v_var (float, current chunk)
  std::vector<double> p_, b_;    // double totals of the current row (dim x dim, dim)
  // The batch, lane-interleaved: cell (a, c) of lane l at (a * dim + c) * kLanes + l.
  int queued_ = 0;
  std::vector<double> bp_, bb_, bv_, bw_;  // P then L, b then the mean, variances, work
  std::vector<int64_t> tags_;
  std::vector<char> ok_;
  std::vector<double> out_mean_, out_var_;
};

// The statistics of every row 0..n-1 of one side taken as entries of value 0 at unit precision
// (add_row(j, solver) adds row j): sum_j E[w_j w_j^T] and sum_j (0 - beta_j) w_j, the implicit
// zeros' share of a row's system (the watch model). Summed in fixed chunks of 4,096 rows, in
// order, so the result does not depend on `threads`.
template <class AddRow>
void sum_side_as_zeros(int rank, int n, int threads, AddRow&& add_row, std::vector<double>& p,
                       std::vector<double>& b) {
  const int dim = rank + 1;
  const size_t d2 = static_cast<size_t>(dim) * dim;
  constexpr int kRows = 4096;
  const int chunks = (n + kRows - 1) / kRows;
  std::vector<double> part_p(static_cast<size_t>(chunks) * d2),
      part_b(static_cast<size_t>(chunks) * dim);
#pragma omp parallel num_threads(threads)
  {
    RowSolver solver(rank);
#pragma omp for schedule(dynamic, 1)
    for (int c = 0; c < chunks; ++c) {
      solver.begin();
      for (int j = c * kRows; j < std::min(n, (c + 1) * kRows); ++j) add_row(j, solver);
      solver.totals(&part_p[static_cast<size_t>(c) * d2], &part_b[static_cast<size_t>(c) * dim]);
    }
  }
  p.assign(d2, 0.0);
  b.assign(dim, 0.0);
  for (int c = 0; c < chunks; ++c) {
    for (size_t k = 0; k < d2; ++k) p[k] += part_p[c * d2 + k];
    for (int k = 0; k < dim; ++k) b[k] += part_b[static_cast<size_t>(c) * dim + k];
  }
}

}  // namespace ppmf
