// Fold-in by exact Gaussian conditioning (CPU; the per-user solve is small and independent).
#include "ppmf/foldin.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "cpus.hpp"
#include "ppmf/groups.hpp"
#include "ppmf/predict.hpp"
#include "ppmf/watch.hpp"
#include "row_solver.hpp"
#include "spd.hpp"

namespace ppmf {

FoldInResult fold_in_user(const Model& model, const History& h, const double* prior_mean,
                          const double* prior_prec, bool want_covariance) {
  const int d = model.rank(), n = d + 1;
  const GuideBlock& V = model.V;
  RowSolver solver(d);
  solver.begin();
  std::vector<float> y_mean(n), y_var(n);
  for (size_t e = 0; e < h.items.size(); ++e) {
    const int32_t j = h.items[e];
    for (int k = 0; k < d; ++k) {
      y_mean[k] = V.mean[static_cast<size_t>(j) * V.stride + k];
      y_var[k] = std::exp(2.0f * V.logsd[static_cast<size_t>(j) * V.stride + k]);
    }
    y_mean[d] = V.bias_mean[j];
    y_var[d] = std::exp(2.0f * V.bias_logsd[j]);
    solver.add(y_mean.data(), y_var.data(), h.values[e] - model.mu0);
  }
  std::vector<double> prec_mean(n, 0.0);
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) prec_mean[a] += prior_prec[a * n + b] * prior_mean[b];
  FoldInResult out;
  out.mean.resize(n);
  out.var.resize(n);
  if (want_covariance) out.covariance.resize(static_cast<size_t>(n) * n);
  if (!solver.finish(1.0 / model.sigma2, prior_prec, prec_mean.data(), out.mean.data(),
                     out.var.data(), want_covariance ? out.covariance.data() : nullptr))
    throw Error("fold-in: posterior precision is not positive definite (check the model's priors)");
  return out;
}

void new_user_prior(const Model& model, int group, int entries, bool plain,
                    std::vector<double>& mean, std::vector<double>& prec) {
  const int n = model.dim();
  const PriorBlock& p = model.user_prior;
  std::vector<double> cov;
  if (group >= 0) {
    mean.assign(p.mean_of(group), p.mean_of(group) + n);
    cov.assign(p.cov_of(group), p.cov_of(group) + static_cast<size_t>(n) * n);
  } else {
    p.population(model.config.tau, mean, cov);
  }
  if (!plain)
    if (const float* biased = model.new_users.mean_of(group, entries, n))
      mean.assign(biased, biased + n);
  prec.resize(static_cast<size_t>(n) * n);
  if (!spd::invert(cov.data(), n, prec.data()))
    throw Error("fold-in: the prior covariance is not positive definite");
}

FoldInReport fold_in_table(Model& model, const Ratings& table, const GroupFile* user_groups,
                           const FoldInOptions& options) {
  const int d = model.rank(), n = d + 1;
  FoldInReport report;
  // Each table user's entries, with items resolved against the model.
  std::vector<History> histories(table.users.size());
  std::vector<int32_t> item_index(table.items.size());
  for (size_t j = 0; j < table.items.size(); ++j)
    item_index[j] = model.items.find(table.items.name(static_cast<int32_t>(j)));
  for (size_t e = 0; e < table.size(); ++e) {
    const int32_t j = item_index[table.item[e]];
    if (j < 0) {
      ++report.entries_unknown_item;
      continue;
    }
    histories[table.user[e]].items.push_back(j);
    histories[table.user[e]].values.push_back(
        to_model_scale(table.value[e], model.config.transform));
    ++report.entries_used;
  }
  // The model row of every table user: existing, or appended to its group (see ensure_group).
  std::vector<int32_t> row(table.users.size());
  std::vector<char> is_new(table.users.size(), 0);
  std::vector<int> group_of_new(table.users.size(), -1);
  for (size_t u = 0; u < table.users.size(); ++u) {
    const std::string_view id = table.users.name(static_cast<int32_t>(u));
    int32_t at = model.users.find(id);
    if (at < 0) {
      int group = 0;
      if (model.user_groups.from_file) {
        const auto it =
            user_groups ? user_groups->find(std::string(id)) : GroupFile::const_iterator{};
        group = ensure_group(model, true,
                             user_groups && it != user_groups->end() ? it->second : "default");
      }
      at = model.users.insert(id);
      model.user_groups.of.push_back(group);
      model.user_count.push_back(0);
      is_new[u] = 1;
      group_of_new[u] = group;
      ++report.added;
    } else if (!histories[u].items.empty()) {
      ++report.updated;
    }
    row[u] = at;
  }
  // Grow the guide for the new users (rows filled below).
  GuideBlock& U = model.U;
  U.n = static_cast<int>(model.users.size());
  U.mean.resize(static_cast<size_t>(U.n) * U.stride, 0.f);
  U.logsd.resize(static_cast<size_t>(U.n) * U.stride, 0.f);
  U.bias_mean.resize(U.n, 0.f);
  U.bias_logsd.resize(U.n, 0.f);
  if (model.watch.present) {
    GuideBlock& W = model.watch.U;
    W.n = U.n;
    W.mean.resize(static_cast<size_t>(W.n) * W.stride, 0.f);
    W.logsd.resize(static_cast<size_t>(W.n) * W.stride, 0.f);
    W.bias_mean.resize(W.n, 0.f);
    W.bias_logsd.resize(W.n, 0.f);
  }

  // The precision of each group's prior (and the population's, at 0) is inverted once.
  std::vector<std::vector<double>> group_mean(model.user_prior.n_groups + 1),
      group_prec(model.user_prior.n_groups + 1);
  for (size_t u = 0; u < row.size(); ++u)
    if (is_new[u] && group_prec[group_of_new[u] + 1].empty())
      new_user_prior(model, group_of_new[u], 0, /*plain=*/true, group_mean[group_of_new[u] + 1],
                     group_prec[group_of_new[u] + 1]);

  bool failed = false;
  std::string failure;
#pragma omp parallel for schedule(dynamic, 64) \
    num_threads(options.threads > 0 ? options.threads : usable_cpus())
  for (long u = 0; u < static_cast<long>(row.size()); ++u) {
    if (!is_new[u] && histories[u].items.empty()) continue;
    const int32_t i = row[u];
    try {
      std::vector<double> mean(n), own_prec;
      const double* prec = nullptr;
      if (is_new[u]) {
        const int g = group_of_new[u];
        const float* biased =
            options.plain_prior
                ? nullptr
                : model.new_users.mean_of(g, static_cast<int>(histories[u].items.size()), n);
        for (int k = 0; k < n; ++k) mean[k] = biased ? biased[k] : group_mean[g + 1][k];
        prec = group_prec[g + 1].data();
      } else {  // Bayes' rule: the current guide is the prior of the new entries
        own_prec.assign(static_cast<size_t>(n) * n, 0.0);
        for (int k = 0; k < d; ++k) {
          mean[k] = U.mean[static_cast<size_t>(i) * U.stride + k];
          own_prec[k * n + k] = std::exp(-2.0 * U.logsd[static_cast<size_t>(i) * U.stride + k]);
        }
        mean[d] = U.bias_mean[i];
        own_prec[d * n + d] = std::exp(-2.0 * U.bias_logsd[i]);
        prec = own_prec.data();
      }
      const FoldInResult post = fold_in_user(model, histories[u], mean.data(), prec);
      for (int k = 0; k < d; ++k) {
        U.mean[static_cast<size_t>(i) * U.stride + k] = static_cast<float>(post.mean[k]);
        U.logsd[static_cast<size_t>(i) * U.stride + k] =
            static_cast<float>(0.5 * std::log(post.var[k]));
      }
      U.bias_mean[i] = static_cast<float>(post.mean[d]);
      U.bias_logsd[i] = static_cast<float>(0.5 * std::log(post.var[d]));
    } catch (const Error& e) {
#pragma omp critical(foldin_failure)
      if (!failed) {
        failed = true;
        failure = e.what();
      }
    }
  }
  if (failed) throw Error(failure);

  // Seen lists and counts.
  std::vector<std::vector<int32_t>> seen = seen_lists(model);
  seen.resize(model.users.size());
  for (size_t u = 0; u < row.size(); ++u) {
    auto& list = seen[row[u]];
    list.insert(list.end(), histories[u].items.begin(), histories[u].items.end());
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    model.user_count[row[u]] += static_cast<int32_t>(histories[u].items.size());
  }
  set_seen(model, seen);
  // The watch part of every user touched, from all of its seen items (the new entries also
  // remove implicit zeros, so its old watch posterior is not a prior for them).
  std::vector<int32_t> touched;
  for (size_t u = 0; u < row.size(); ++u)
    if (is_new[u] || !histories[u].items.empty()) touched.push_back(row[u]);
  fold_in_watch(model, touched, options.threads);
  return report;
}

}  // namespace ppmf
