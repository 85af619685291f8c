// Fold-in by exact Gaussian conditioning (CPU; the per-user solve is small and independent).
//
// With x = [u; alpha] and w_j = [n_j; 1], the expected log-likelihood of r_j under q(v_j),
// q(beta_j) is quadratic in x: -1/(2 sigma^2) (x^T E[w w^T] x - 2 (r_j - mu0 - c_j) E[w]^T x) +
// const, where E[w w^T] = [n n^T + diag(t^2), n; n^T, 1]. Adding a Gaussian prior gives precision
// P = diag(prior_prec) + sigma^-2 sum_j E[w_j w_j^T] and mean P^-1 (diag(prior_prec) prior_mean +
// sigma^-2 sum_j (r_j - mu0 - c_j) E[w_j]).
#include "ppmf/foldin.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "ppmf/groups.hpp"
#include "ppmf/predict.hpp"

namespace ppmf {
namespace {

// In-place Cholesky of an n x n SPD matrix (lower triangle); false if not positive definite.
bool cholesky(std::vector<double>& a, int n) {
  for (int j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (int k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (int k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / d;
    }
  }
  return true;
}

// Solves L L^T x = b in place.
void cholesky_solve(const std::vector<double>& l, int n, double* b) {
  for (int i = 0; i < n; ++i) {
    double s = b[i];
    for (int k = 0; k < i; ++k) s -= l[i * n + k] * b[k];
    b[i] = s / l[i * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {
    double s = b[i];
    for (int k = i + 1; k < n; ++k) s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
}

}  // namespace

void user_prior(const Model& model, int group, std::vector<double>& mean,
                std::vector<double>& prec) {
  const int d = model.rank();
  const PriorBlock& p = model.user_prior;
  mean.assign(d + 1, 0.0);
  prec.assign(d + 1, 1.0);
  if (group >= 0) {
    for (int k = 0; k < d; ++k) {
      mean[k] = p.mean[static_cast<size_t>(group) * d + k];
      prec[k] = p.prec[static_cast<size_t>(group) * d + k];
    }
    mean[d] = p.bias_mean[group];
    prec[d] = p.bias_prec[group];
    return;
  }
  std::vector<float> pm, pv;
  float bm, bv;
  p.population(model.config.tau, pm, pv, bm, bv);
  for (int k = 0; k < d; ++k) {
    mean[k] = pm[k];
    prec[k] = 1.0 / pv[k];
  }
  mean[d] = bm;
  prec[d] = 1.0 / bv;
}

FoldInResult fold_in_user(const Model& model, const History& h, const double* prior_mean,
                          const double* prior_prec, bool want_covariance) {
  const int d = model.rank(), n = d + 1;
  const GuideBlock& V = model.V;
  const double inv_s2 = 1.0 / model.sigma2;
  std::vector<double> P(static_cast<size_t>(n) * n, 0.0), b(n, 0.0);
  std::vector<double> w(n), t2(d);
  for (size_t e = 0; e < h.items.size(); ++e) {
    const int32_t j = h.items[e];
    for (int k = 0; k < d; ++k) {
      w[k] = V.mean[static_cast<size_t>(j) * V.stride + k];
      t2[k] = std::exp(2.0 * V.logsd[static_cast<size_t>(j) * V.stride + k]);
    }
    w[d] = 1.0;
    const double target = h.values[e] - model.mu0 - V.bias_mean[j];
    for (int r = 0; r < n; ++r) {
      for (int c = 0; c <= r; ++c) P[r * n + c] += inv_s2 * w[r] * w[c];
      b[r] += inv_s2 * target * w[r];
    }
    for (int k = 0; k < d; ++k) P[k * n + k] += inv_s2 * t2[k];
  }
  for (int k = 0; k < n; ++k) {
    P[k * n + k] += prior_prec[k];
    b[k] += prior_prec[k] * prior_mean[k];
  }
  for (int r = 0; r < n; ++r)
    for (int c = r + 1; c < n; ++c) P[r * n + c] = P[c * n + r];
  if (!cholesky(P, n))
    throw Error("fold-in: posterior precision is not positive definite (check the model's priors)");
  FoldInResult out;
  out.mean = b;
  cholesky_solve(P, n, out.mean.data());
  // Sigma = P^-1 = L^-T L^-1. W = L^-1 is lower triangular (n^3/6 work); the marginal variances
  // are the squared column norms of W, and the full covariance is formed only when asked for.
  std::vector<double> W(static_cast<size_t>(n) * n, 0.0);
  for (int c = 0; c < n; ++c) {
    W[c * n + c] = 1.0 / P[c * n + c];
    for (int r = c + 1; r < n; ++r) {
      double acc = 0;
      for (int k = c; k < r; ++k) acc += P[r * n + k] * W[k * n + c];
      W[r * n + c] = -acc / P[r * n + r];
    }
  }
  out.var.assign(n, 0.0);
  for (int r = 0; r < n; ++r)
    for (int c = 0; c <= r; ++c) out.var[c] += W[r * n + c] * W[r * n + c];
  if (want_covariance) {
    out.covariance.assign(static_cast<size_t>(n) * n, 0.0);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j <= i; ++j) {
        double acc = 0;
        for (int r = i; r < n; ++r) acc += W[r * n + i] * W[r * n + j];
        out.covariance[i * n + j] = out.covariance[j * n + i] = acc;
      }
  }
  return out;
}

FoldInReport fold_in_table(Model& model, const Ratings& table, const GroupFile* user_groups,
                           int threads) {
  const int d = model.rank();
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

#pragma omp parallel for schedule(dynamic, 64) \
    num_threads(threads > 0 ? threads : omp_get_max_threads())
  for (long u = 0; u < static_cast<long>(row.size()); ++u) {
    if (!is_new[u] && histories[u].items.empty()) continue;
    const int32_t i = row[u];
    std::vector<double> mean, prec;
    if (is_new[u]) {
      user_prior(model, model.user_groups.of[i], mean, prec);
    } else {  // Bayes' rule: the current guide is the prior of the new entries
      mean.resize(d + 1);
      prec.resize(d + 1);
      for (int k = 0; k < d; ++k) {
        mean[k] = U.mean[static_cast<size_t>(i) * U.stride + k];
        prec[k] = std::exp(-2.0 * U.logsd[static_cast<size_t>(i) * U.stride + k]);
      }
      mean[d] = U.bias_mean[i];
      prec[d] = std::exp(-2.0 * U.bias_logsd[i]);
    }
    const FoldInResult post = fold_in_user(model, histories[u], mean.data(), prec.data());
    for (int k = 0; k < d; ++k) {
      U.mean[static_cast<size_t>(i) * U.stride + k] = static_cast<float>(post.mean[k]);
      U.logsd[static_cast<size_t>(i) * U.stride + k] =
          static_cast<float>(0.5 * std::log(post.var[k]));
    }
    U.bias_mean[i] = static_cast<float>(post.mean[d]);
    U.bias_logsd[i] = static_cast<float>(0.5 * std::log(post.var[d]));
  }

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
  return report;
}

}  // namespace ppmf
