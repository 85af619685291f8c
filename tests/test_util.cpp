// Test helpers (see test_util.hpp).
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
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

std::vector<double> dense_inverse(std::vector<double> a, int n, double* log_abs_det) {
  std::vector<double> inv(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) inv[i * n + i] = 1;
  double log_det = 0;
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
    for (int k = 0; k < n; ++k) {
      std::swap(a[c * n + k], a[p * n + k]);
      std::swap(inv[c * n + k], inv[p * n + k]);
    }
    const double d = a[c * n + c];
    log_det += std::log(std::fabs(d));
    for (int k = 0; k < n; ++k) {
      a[c * n + k] /= d;
      inv[c * n + k] /= d;
    }
    for (int r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r * n + c];
      for (int k = 0; k < n; ++k) {
        a[r * n + k] -= f * a[c * n + k];
        inv[r * n + k] -= f * inv[c * n + k];
      }
    }
  }
  if (log_abs_det) *log_abs_det = log_det;
  return inv;
}

void random_prior(PriorBlock& p, int g, Rng& rng) {
  const int m = p.dim();
  // cov = A A^T / m + 0.3 I with a random A: well conditioned, with real correlations.
  std::vector<double> a(static_cast<size_t>(m) * m);
  for (auto& x : a) x = rng.normal();
  for (int r = 0; r < m; ++r) {
    p.mean[static_cast<size_t>(g) * m + r] = static_cast<float>(0.4 * rng.normal());
    for (int c = 0; c < m; ++c) {
      double v = r == c ? 0.3 : 0.0;
      for (int k = 0; k < m; ++k) v += a[r * m + k] * a[c * m + k] / m;
      p.cov[(static_cast<size_t>(g) * m + r) * m + c] = static_cast<float>(v);
    }
  }
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
    for (int g = 0; g < groups; ++g) random_prior(*prior, g, rng);
    for (auto& x : prior->pop_mean) x = static_cast<float>(0.2 * rng.normal());
  }
  return m;
}

namespace {

// KL(N(x, diag(s^2)) || N(M, C)) in double, from the textbook formula.
double kl_full(const std::vector<double>& x, const std::vector<double>& s2, const float* M,
               const float* C, int m) {
  double log_det = 0;
  const std::vector<double> inv = dense_inverse(std::vector<double>(C, C + m * m), m, &log_det);
  double trace = 0, quad = 0, log_s2 = 0;
  for (int r = 0; r < m; ++r) {
    trace += inv[r * m + r] * s2[r];
    log_s2 += std::log(s2[r]);
    for (int c = 0; c < m; ++c) quad += (x[r] - M[r]) * inv[r * m + c] * (x[c] - M[c]);
  }
  return 0.5 * (trace + quad - m + log_det - log_s2);
}

double side_kl(const GuideBlock& g, const PriorBlock& p, const std::vector<int32_t>& group,
               const std::vector<int32_t>& count) {
  const int m = p.dim();
  std::vector<double> x(m), s2(m);
  double kl = 0;
  for (int i = 0; i < g.n; ++i) {
    if (count[i] == 0) continue;
    for (int k = 0; k < g.rank; ++k) {
      x[k] = g.mean[static_cast<size_t>(i) * g.stride + k];
      s2[k] = std::exp(2.0 * g.logsd[static_cast<size_t>(i) * g.stride + k]);
    }
    x[g.rank] = g.bias_mean[i];
    s2[g.rank] = std::exp(2.0 * g.bias_logsd[i]);
    kl += kl_full(x, s2, p.mean_of(group[i]), p.cov_of(group[i]), m);
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

TrainConfig epochs_config(int epochs) {
  TrainConfig tc;
  tc.epochs = epochs;
  return tc;
}

ShellRun run_shell(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string test_dir_name(const std::string& suite, const char* test) {
  std::string name = "ppmf_" + std::to_string(::getpid()) + "_" + suite;
  if (test != nullptr) name += std::string(".") + test;
  std::replace(name.begin(), name.end(), '/', '_');  // parameterised tests: "Suite/Name/0"
  return (std::filesystem::path(::testing::TempDir()) / name).string();
}

std::string test_dir() {
  const auto* unit = ::testing::UnitTest::GetInstance();
  const auto* test = unit->current_test_info();
  const std::string dir = test != nullptr
                              ? test_dir_name(test->test_suite_name(), test->name())
                              : test_dir_name(unit->current_test_suite()->name(), nullptr);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string temp_path(const std::string& name) { return test_dir() + "/" + name; }

std::vector<uint32_t> bits(const std::vector<float>& v) {
  std::vector<uint32_t> out(v.size());
  std::memcpy(out.data(), v.data(), v.size() * sizeof(float));
  return out;
}
uint32_t bits(float x) {
  uint32_t out;
  std::memcpy(&out, &x, sizeof x);
  return out;
}
uint64_t bits(double x) {
  uint64_t out;
  std::memcpy(&out, &x, sizeof x);
  return out;
}

namespace {

void expect_same(const GuideBlock& a, const GuideBlock& b) {
  EXPECT_EQ(a.n, b.n);
  EXPECT_EQ(a.rank, b.rank);
  EXPECT_EQ(a.stride, b.stride);
  EXPECT_EQ(bits(a.mean), bits(b.mean));
  EXPECT_EQ(bits(a.logsd), bits(b.logsd));
  EXPECT_EQ(bits(a.bias_mean), bits(b.bias_mean));
  EXPECT_EQ(bits(a.bias_logsd), bits(b.bias_logsd));
}

void expect_same(const PriorBlock& a, const PriorBlock& b) {
  EXPECT_EQ(a.n_groups, b.n_groups);
  EXPECT_EQ(a.rank, b.rank);
  EXPECT_EQ(bits(a.mean), bits(b.mean));
  EXPECT_EQ(bits(a.cov), bits(b.cov));
  EXPECT_EQ(bits(a.pop_mean), bits(b.pop_mean));
}

void expect_same(const Groups& a, const Groups& b) {
  EXPECT_EQ(a.names, b.names);
  EXPECT_EQ(a.of, b.of);
  EXPECT_EQ(a.from_file, b.from_file);
}

}  // namespace

void expect_same_model(const Model& a, const Model& b, Timings timings) {
  EXPECT_EQ(a.config.rank, b.config.rank);
  EXPECT_EQ(a.config.transform, b.config.transform);
  EXPECT_EQ(a.config.pool, b.config.pool);
  EXPECT_EQ(bits(a.config.tau), bits(b.config.tau));
  EXPECT_EQ(bits(a.config.prec_a0), bits(b.config.prec_a0));
  EXPECT_EQ(bits(a.config.prec_b0), bits(b.config.prec_b0));
  EXPECT_EQ(bits(a.config.noise_a), bits(b.config.noise_a));
  EXPECT_EQ(bits(a.config.noise_b), bits(b.config.noise_b));
  EXPECT_EQ(bits(a.config.init_sd), bits(b.config.init_sd));
  EXPECT_EQ(a.users.names(), b.users.names());
  EXPECT_EQ(a.items.names(), b.items.names());
  expect_same(a.user_groups, b.user_groups);
  expect_same(a.item_groups, b.item_groups);
  EXPECT_EQ(a.user_count, b.user_count);
  EXPECT_EQ(a.item_count, b.item_count);
  expect_same(a.U, b.U);
  expect_same(a.V, b.V);
  expect_same(a.user_prior, b.user_prior);
  expect_same(a.item_prior, b.item_prior);
  EXPECT_EQ(a.new_users.groups, b.new_users.groups);
  EXPECT_EQ(a.new_users.max_n, b.new_users.max_n);
  EXPECT_EQ(bits(a.new_users.mean), bits(b.new_users.mean));
  EXPECT_EQ(bits(a.mu0), bits(b.mu0));
  EXPECT_EQ(bits(a.sigma2), bits(b.sigma2));
  EXPECT_EQ(a.n_train, b.n_train);
  EXPECT_EQ(a.seen_offsets, b.seen_offsets);
  EXPECT_EQ(a.seen_items, b.seen_items);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t e = 0; e < a.history.size(); ++e) {
    const EpochMetrics &x = a.history[e], &y = b.history[e];
    EXPECT_EQ(x.epoch, y.epoch);
    EXPECT_EQ(bits(x.elbo_per_entry), bits(y.elbo_per_entry));
    EXPECT_EQ(bits(x.train_rmse), bits(y.train_rmse));
    EXPECT_EQ(x.has_valid, y.has_valid);
    EXPECT_EQ(bits(x.valid_rmse), bits(y.valid_rmse));
    EXPECT_EQ(bits(x.valid_nll), bits(y.valid_nll));
    EXPECT_EQ(bits(x.test_rmse), bits(y.test_rmse));
    EXPECT_EQ(bits(x.test_nll), bits(y.test_nll));
    EXPECT_EQ(bits(x.sigma), bits(y.sigma));
    if (timings == Timings::kCompared) {
      EXPECT_EQ(bits(x.entries_per_s), bits(y.entries_per_s));
      EXPECT_EQ(bits(x.seconds), bits(y.seconds));
    }
    EXPECT_EQ(x.has_test, y.has_test);
  }
  EXPECT_EQ(a.best_epoch, b.best_epoch);
  ASSERT_EQ(a.watch.present, b.watch.present);
  if (a.watch.present) {
    const WatchConfig &x = a.watch.config, &y = b.watch.config;
    EXPECT_EQ(x.enabled, y.enabled);
    EXPECT_EQ(x.rank, y.rank);
    EXPECT_EQ(bits(x.alpha), bits(y.alpha));
    EXPECT_EQ(bits(x.zero_weight), bits(y.zero_weight));
    EXPECT_EQ(x.epochs, y.epochs);
    expect_same(a.watch.U, b.watch.U);
    expect_same(a.watch.V, b.watch.V);
    expect_same(a.watch.user_prior, b.watch.user_prior);
    expect_same(a.watch.item_prior, b.watch.item_prior);
  }
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
