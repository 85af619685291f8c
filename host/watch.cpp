// The watch model's host side: the view that serves it, the implicit background and fold-in.
#include "ppmf/watch.hpp"

#include <algorithm>
#include <cmath>

#include "cpus.hpp"
#include "ppmf/entry_math.hpp"
#include "row_solver.hpp"
#include "spd.hpp"

namespace ppmf {

Model watch_view(const Model& m) {
  if (!m.watch.present) throw Error("the model has no watch part (train it with the watch model on)");
  Model v;
  v.config = m.config;
  v.config.rank = m.watch.config.rank;
  v.users = m.users;
  v.items = m.items;
  v.user_groups = m.user_groups;
  v.item_groups = m.item_groups;
  v.user_count = m.user_count;
  v.item_count = m.item_count;
  v.U = m.watch.U;
  v.V = m.watch.V;
  v.user_prior = m.watch.user_prior;
  v.item_prior = m.watch.item_prior;
  v.mu0 = 0.0f;
  v.sigma2 = 0.0f;  // a score, not a noisy observation: its variance is the posterior's alone
  v.n_train = m.n_train;
  v.seen_offsets = m.seen_offsets;
  v.seen_items = m.seen_items;
  v.best_epoch = m.best_epoch;
  // New users start from their group's plain watch prior, not the size-biased one of the minutes
  // part: a member's watch score already counts each of its views, so weighting members by the
  // views they go on to make would count heavy users' tastes twice, and a new user's list would
  // follow what heavy users watch instead of what most users start with. (Fold-in starts from the
  // same plain prior.)
  return v;
}

void implicit_background(const GuideBlock& g, int threads, std::vector<double>& p,
                         std::vector<double>& b) {
  const int d = g.rank;
  sum_side_as_zeros(
      d, g.n, threads > 0 ? threads : usable_cpus(),
      [&](int j, RowSolver& solver) {
        thread_local std::vector<float> m, v;
        m.resize(d + 1);
        v.resize(d + 1);
        for (int k = 0; k < d; ++k) {
          m[k] = g.mean_row(j)[k];
          v[k] = std::exp(2.0f * g.logsd_row(j)[k]);
        }
        m[d] = g.bias_mean[j];
        v[d] = 0.0f;
        solver.add(m.data(), v.data(), 0.0f);
      },
      p, b);
}

void fold_in_watch(Model& model, const std::vector<int32_t>& users, int threads) {
  WatchPart& w = model.watch;
  if (!w.present || users.empty()) return;
  const int d = w.config.rank, dim = d + 1;
  const size_t d2 = static_cast<size_t>(dim) * dim;
  const float w0 = w.config.zero_weight, c = watch_confidence(w.config);
  std::vector<double> bg_p, bg_b;
  implicit_background(w.V, threads, bg_p, bg_b);
  // Each group's prior precision and precision-times-mean, with the background added.
  const PriorBlock& prior = w.user_prior;
  std::vector<double> prec(prior.n_groups * d2), prec_mean(static_cast<size_t>(prior.n_groups) * dim);
  for (int g = 0; g < prior.n_groups; ++g) {
    std::vector<double> cov(prior.cov_of(g), prior.cov_of(g) + d2);
    double* pg = &prec[g * d2];
    if (!spd::invert(cov.data(), dim, pg))
      throw Error("watch fold-in: a prior covariance is not positive definite");
    for (int a = 0; a < dim; ++a) {
      double s = 0;
      for (int k = 0; k < dim; ++k) s += pg[a * dim + k] * prior.mean_of(g)[k];
      prec_mean[static_cast<size_t>(g) * dim + a] = s + w0 * bg_b[a];
    }
    for (size_t k = 0; k < d2; ++k) pg[k] += w0 * bg_p[k];
  }
  bool failed = false;
#pragma omp parallel num_threads(threads > 0 ? threads : usable_cpus())
  {
    RowSolver solver(d);
    std::vector<float> mean(dim), var(dim);
    std::vector<double> post_mean(dim), post_var(dim);
#pragma omp for schedule(dynamic, 64)
    for (long k = 0; k < static_cast<long>(users.size()); ++k) {
      const int32_t i = users[k];
      solver.begin();
      for (const int32_t j : seen_items_of(model, i)) {
        for (int a = 0; a < d; ++a) {
          mean[a] = w.V.mean_row(j)[a];
          var[a] = std::exp(2.0f * w.V.logsd_row(j)[a]);
        }
        mean[d] = w.V.bias_mean[j];
        var[d] = 0.0f;
        solver.add(mean.data(), var.data(), math::implicit_value(c, w0),
                   math::implicit_weight(c, w0));
      }
      const size_t g = static_cast<size_t>(model.user_groups.of[i]);
      if (!solver.finish(1.0, &prec[g * d2], &prec_mean[g * dim], post_mean.data(),
                         post_var.data())) {
#pragma omp atomic write
        failed = true;
        continue;
      }
      float* um = w.U.mean.data() + static_cast<size_t>(i) * w.U.stride;
      float* ul = w.U.logsd.data() + static_cast<size_t>(i) * w.U.stride;
      for (int a = 0; a < d; ++a) {
        um[a] = static_cast<float>(post_mean[a]);
        ul[a] = static_cast<float>(0.5 * std::log(post_var[a]));
      }
      w.U.bias_mean[i] = static_cast<float>(post_mean[d]);
      w.U.bias_logsd[i] = static_cast<float>(0.5 * std::log(post_var[d]));
    }
  }
  if (failed) throw Error("watch fold-in: a posterior precision is not positive definite");
}

}  // namespace ppmf
