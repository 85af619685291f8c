// Test helpers (see test_util.hpp).
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "ppmf/common.hpp"
#include "ppmf/groups.hpp"
#include "ppmf/ratings.hpp"

namespace ppmf::testing {

Ratings planted_ratings(int users, int items, int rank, int per_user, double noise_sd,
                        uint64_t seed, std::vector<float>* truth) {
  Rng rng(seed);
  std::vector<double> U(static_cast<size_t>(users) * rank), V(static_cast<size_t>(items) * rank),
      a(users), b(items);
  for (auto& x : U) x = rng.normal() / std::sqrt(std::sqrt(rank));
  for (auto& x : V) x = rng.normal() / std::sqrt(std::sqrt(rank));
  for (auto& x : a) x = 0.3 * rng.normal();
  for (auto& x : b) x = 0.3 * rng.normal();
  Ratings r;
  for (int i = 0; i < users; ++i) r.users.insert("user" + std::to_string(i));
  for (int j = 0; j < items; ++j) r.items.insert("item" + std::to_string(j));
  for (int i = 0; i < users; ++i) {
    std::unordered_set<int> seen;
    while (static_cast<int>(seen.size()) < std::min(per_user, items)) {
      const int j = static_cast<int>(rng.below(items));
      if (!seen.insert(j).second) continue;
      double mean = 3.0 + a[i] + b[j];
      for (int k = 0; k < rank; ++k)
        mean += U[static_cast<size_t>(i) * rank + k] * V[static_cast<size_t>(j) * rank + k];
      r.push(i, j, static_cast<float>(mean + noise_sd * rng.normal()));
      if (truth) truth->push_back(static_cast<float>(mean));
    }
  }
  return r;
}

Model random_model(const Ratings& train, int rank, int user_group_count, uint64_t seed) {
  Rng rng(seed);
  Model m;
  m.config.rank = rank;
  m.users = train.users;
  m.items = train.items;
  m.user_groups.names.clear();
  for (int g = 0; g < user_group_count; ++g) m.user_groups.names.push_back("g" + std::to_string(g));
  m.user_groups.from_file = true;
  for (size_t i = 0; i < m.users.size(); ++i)
    m.user_groups.of.push_back(static_cast<int32_t>(i % user_group_count));
  m.item_groups = make_groups(m.items, nullptr);
  m.user_count = count_per_user(train);
  m.item_count = count_per_item(train);
  m.n_train = train.size();
  set_seen(m, items_per_user(train));
  m.mu0 = 0.5f;
  m.sigma2 = 0.7f;
  for (GuideBlock* g : {&m.U, &m.V}) {
    g->resize(static_cast<int>(g == &m.U ? m.users.size() : m.items.size()), rank);
    for (int i = 0; i < g->n; ++i) {
      for (int k = 0; k < rank; ++k) {
        g->mean[static_cast<size_t>(i) * g->stride + k] = static_cast<float>(0.8 * rng.normal());
        g->logsd[static_cast<size_t>(i) * g->stride + k] =
            static_cast<float>(-1.0 + 0.3 * rng.normal());
      }
      g->bias_mean[i] = static_cast<float>(0.5 * rng.normal());
      g->bias_logsd[i] = static_cast<float>(-1.2 + 0.3 * rng.normal());
    }
  }
  for (auto [prior, groups] :
       {std::make_pair(&m.user_prior, user_group_count), std::make_pair(&m.item_prior, 1)}) {
    prior->reset(groups, rank);
    for (auto& x : prior->mean) x = static_cast<float>(0.4 * rng.normal());
    for (auto& x : prior->prec) x = static_cast<float>(0.5 + 2.0 * rng.uniform());
    for (auto& x : prior->bias_mean) x = static_cast<float>(0.3 * rng.normal());
    for (auto& x : prior->bias_prec) x = static_cast<float>(0.5 + 2.0 * rng.uniform());
  }
  return m;
}

namespace {

double side_kl(const GuideBlock& g, const PriorBlock& p, const std::vector<int32_t>& group,
               const std::vector<int32_t>& count) {
  double kl = 0;
  for (int i = 0; i < g.n; ++i) {
    if (count[i] == 0) continue;
    const int gr = group[i];
    for (int k = 0; k < g.rank; ++k) {
      const double m = g.mean[static_cast<size_t>(i) * g.stride + k];
      const double w = g.logsd[static_cast<size_t>(i) * g.stride + k];
      const double L = p.prec[static_cast<size_t>(gr) * p.rank + k],
                   M = p.mean[static_cast<size_t>(gr) * p.rank + k];
      kl += 0.5 * (L * (std::exp(2 * w) + (m - M) * (m - M)) - 1 - std::log(L) - 2 * w);
    }
    const double a = g.bias_mean[i], w = g.bias_logsd[i];
    const double L = p.bias_prec[gr], M = p.bias_mean[gr];
    kl += 0.5 * (L * (std::exp(2 * w) + (a - M) * (a - M)) - 1 - std::log(L) - 2 * w);
  }
  return kl;
}

}  // namespace

double reference_elbo(const Model& m, const Ratings& train) {
  const double s2 = m.sigma2;
  double total = 0;
  for (size_t k = 0; k < train.size(); ++k) {
    const int i = train.user[k], j = train.item[k];
    const GuideBlock &U = m.U, &V = m.V;
    double dot = 0, var = std::exp(2.0 * U.bias_logsd[i]) + std::exp(2.0 * V.bias_logsd[j]);
    for (int d = 0; d < m.rank(); ++d) {
      const double mu = U.mean[static_cast<size_t>(i) * U.stride + d],
                   nu = V.mean[static_cast<size_t>(j) * V.stride + d];
      const double su = std::exp(2.0 * U.logsd[static_cast<size_t>(i) * U.stride + d]);
      const double sv = std::exp(2.0 * V.logsd[static_cast<size_t>(j) * V.stride + d]);
      dot += mu * nu;
      var += mu * mu * sv + nu * nu * su + su * sv;
    }
    const double e = train.value[k] - m.mu0 - U.bias_mean[i] - V.bias_mean[j] - dot;
    total += -0.5 * std::log(2 * M_PI * s2) - (e * e + var) / (2 * s2);
  }
  return total - side_kl(m.U, m.user_prior, m.user_groups.of, m.user_count) -
         side_kl(m.V, m.item_prior, m.item_groups.of, m.item_count);
}

TrainConfig quiet_training(int epochs, size_t batch) {
  TrainConfig tc;
  tc.epochs = epochs;
  tc.batch_size = batch;
  tc.quiet = true;
  return tc;
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "ppmf_" + std::to_string(::getpid()) + "_" + name;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace ppmf::testing
