// The backends' view of a model's priors, and the checks both backends rely on (side_priors.hpp).
#include "ppmf/side_priors.hpp"

#include <cmath>
#include <string>

#include "ppmf/common.hpp"
#include "spd.hpp"

namespace ppmf {
namespace {

const PriorBlock& prior_of(const Model& m, Side side) {
  return side == Side::kUsers ? m.user_prior : m.item_prior;
}
int entities(const Model& m, Side side) {
  return side == Side::kUsers ? m.U.n : m.V.n;
}

}  // namespace

int32_t prior_index(const Model& m, Side side, int group) {
  return entities(m, side) + group;
}
int32_t population_index(const Model& m, Side side) {
  return entities(m, side) + prior_of(m, side).n_groups;
}
int32_t new_user_index(const Model& m, int group) {
  const int G = m.user_prior.n_groups;
  return m.U.n + G + 1 + (group < 0 ? G : group);
}
int32_t extended_size(const Model& m, Side side) {
  const int G = prior_of(m, side).n_groups;
  return entities(m, side) + (side == Side::kUsers ? 2 * G + 2 : G + 1);
}

SidePriors side_priors(const Model& m, Side side) {
  const PriorBlock& p = prior_of(m, side);
  const int dim = p.dim(), G = p.n_groups;
  const size_t d2 = static_cast<size_t>(dim) * dim;
  SidePriors s;
  s.dim = dim;
  s.n_groups = G;
  s.mean.resize(static_cast<size_t>(G) * dim);
  s.prec.resize(G * d2);
  s.prec_mean.resize(static_cast<size_t>(G) * dim);
  s.log_det_prec.resize(G);
  std::vector<double> cov(d2);
  for (int g = 0; g < G; ++g) {
    for (size_t k = 0; k < d2; ++k) cov[k] = p.cov_of(g)[k];
    double log_det_cov = 0;
    double* prec = &s.prec[g * d2];
    if (!spd::invert(cov.data(), dim, prec, &log_det_cov))
      throw Error("the prior covariance of group " + std::to_string(g) +
                  " is not positive definite");
    s.log_det_prec[g] = -log_det_cov;
    for (int a = 0; a < dim; ++a) {
      s.mean[static_cast<size_t>(g) * dim + a] = p.mean_of(g)[a];
      double pm = 0;
      for (int b = 0; b < dim; ++b) pm += prec[static_cast<size_t>(a) * dim + b] * p.mean_of(g)[b];
      s.prec_mean[static_cast<size_t>(g) * dim + a] = pm;
    }
  }

  std::vector<double> pop_mean, pop_cov;
  p.population(m.config.tau, pop_mean, pop_cov);
  const bool users = side == Side::kUsers;
  s.rows = users ? 2 * G + 2 : G + 1;
  s.row_mean.resize(static_cast<size_t>(s.rows) * dim);
  s.row_cov.resize(s.rows * d2);
  s.row_var.resize(static_cast<size_t>(s.rows) * dim);
  auto put = [&](int r, const auto* mean, const auto* cov_r) {
    for (int a = 0; a < dim; ++a) {
      s.row_mean[static_cast<size_t>(r) * dim + a] = static_cast<float>(mean[a]);
      s.row_var[static_cast<size_t>(r) * dim + a] = static_cast<float>(cov_r[a * dim + a]);
    }
    for (size_t k = 0; k < d2; ++k) s.row_cov[r * d2 + k] = static_cast<float>(cov_r[k]);
  };
  for (int g = 0; g < G; ++g) put(g, p.mean_of(g), p.cov_of(g));
  put(G, pop_mean.data(), pop_cov.data());
  if (users) {
    for (int g = -1; g < G; ++g) {
      const float* biased = m.new_users.mean_of(g, 0, dim);
      const int r = G + 1 + (g < 0 ? G : g);
      if (g < 0)
        put(r, biased ? biased : s.row_mean.data() + static_cast<size_t>(G) * dim, pop_cov.data());
      else
        put(r, biased ? biased : p.mean_of(g), p.cov_of(g));
    }
  }
  return s;
}

void check_model_shapes(const Model& m) {
  const int rank = m.rank();
  if (rank < 0 || rank > kMaxRank)
    throw Error("rank " + std::to_string(rank) + " is outside 0.." + std::to_string(kMaxRank));
  for (const Side side : {Side::kUsers, Side::kItems}) {
    const bool users = side == Side::kUsers;
    const std::string what = users ? "user" : "item";
    const GuideBlock& g = users ? m.U : m.V;
    const Groups& groups = users ? m.user_groups : m.item_groups;
    const PriorBlock& p = prior_of(m, side);
    const size_t n = static_cast<size_t>(g.n), stride = static_cast<size_t>(g.stride);
    if (g.rank != rank || g.stride != padded_stride(rank) || g.mean.size() != n * stride ||
        g.logsd.size() != n * stride || g.bias_mean.size() != n || g.bias_logsd.size() != n)
      throw Error("the " + what + " guide does not match the model's shape");
    if (groups.of.size() != n)
      throw Error("the model has " + std::to_string(groups.of.size()) + " " + what +
                  " group assignments for " + std::to_string(n) + " " + what + "s");
    if (p.rank != rank || p.n_groups != static_cast<int>(groups.names.size()) ||
        p.mean.size() != static_cast<size_t>(p.n_groups) * p.dim() ||
        p.cov.size() != static_cast<size_t>(p.n_groups) * p.dim() * p.dim() ||
        p.pop_mean.size() != static_cast<size_t>(p.dim()))
      throw Error("the " + what + " prior does not match the model's shape");
    for (const int32_t grp : groups.of)
      if (grp < 0 || grp >= p.n_groups)
        throw Error(what + " group index " + std::to_string(grp) + " is outside the model's " +
                    std::to_string(p.n_groups) + " groups");
  }
}

void guide_to_rows(const GuideBlock& g, int stride, std::vector<float>& mean,
                   std::vector<float>& logsd, std::vector<float>& var) {
  const size_t n = static_cast<size_t>(g.n), s = static_cast<size_t>(stride);
  mean.assign(n * s, 0.f);
  logsd.assign(n * s, 0.f);
  var.assign(n * s, 0.f);
  for (size_t i = 0; i < n; ++i) {
    for (int k = 0; k <= g.rank; ++k) {
      const float m = k < g.rank ? g.mean[i * g.stride + k] : g.bias_mean[i];
      const float w = k < g.rank ? g.logsd[i * g.stride + k] : g.bias_logsd[i];
      mean[i * s + k] = m;
      logsd[i * s + k] = w;
      var[i * s + k] = std::exp(2.0f * w);
    }
  }
}

void rows_to_guide(const float* mean, const float* logsd, int n, int rank, int stride,
                   GuideBlock& g) {
  g.resize(n, rank);
  for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
    for (int k = 0; k < rank; ++k) {
      g.mean[i * g.stride + k] = mean[i * stride + k];
      g.logsd[i * g.stride + k] = logsd[i * stride + k];
    }
    g.bias_mean[i] = mean[i * stride + rank];
    g.bias_logsd[i] = logsd[i * stride + rank];
  }
}

bool training_entries_fit(const std::vector<int32_t>& user, const std::vector<int32_t>& item,
                          int32_t n_users, int32_t n_items) {
  for (size_t k = 0; k < user.size(); ++k)
    if (user[k] < 0 || user[k] >= n_users || item[k] < 0 || item[k] >= n_items) return false;
  return true;
}

void check_training_entries(const std::vector<int32_t>& user, const std::vector<int32_t>& item,
                            size_t values, int32_t n_users, int32_t n_items) {
  if (user.size() != item.size() || user.size() != values)
    throw Error("training arrays differ in length");
  if (!training_entries_fit(user, item, n_users, n_items))
    throw Error("a training entry has an index outside the model");
}

void check_pairs(const PairIndex* pairs, size_t n, int32_t user_rows, int32_t item_rows) {
  for (size_t k = 0; k < n; ++k)
    if (pairs[k].user < 0 || pairs[k].user >= user_rows || pairs[k].item < 0 ||
        pairs[k].item >= item_rows)
      throw Error("prediction pair " + std::to_string(k) + " has an index outside the model");
}

void check_scored_users(const int32_t* users, size_t n, int32_t user_rows) {
  for (size_t k = 0; k < n; ++k)
    if (users[k] < 0 || users[k] >= user_rows)
      throw Error("scoring: user index " + std::to_string(users[k]) + " is outside the model");
}

}  // namespace ppmf
