// Serving mostly-new users: fold-in against a dense solve and against training, zero-history
// priors, recommendation rules, Thompson reproducibility, warm starts and the given-N split.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "cpu_backend.hpp"
#include "ppmf/coldstart.hpp"
#include "ppmf/foldin.hpp"
#include "ppmf/predict.hpp"
#include "ppmf/recommend.hpp"
#include "ppmf/scheduler.hpp"
#include "test_util.hpp"

namespace ppmf {
namespace {

Model trained_model(const Ratings& data, int rank, int epochs) {
  ModelConfig mc;
  mc.rank = rank;
  TrainInputs in;
  in.train = &data;
  auto backend = make_cpu_backend(2);
  return train(in, mc, testing::quiet_training(epochs, 512), *backend);
}

// Gauss-Jordan inverse, written independently of the Cholesky path under test.
std::vector<double> invert(std::vector<double> a, int n) {
  std::vector<double> inv(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) inv[i * n + i] = 1;
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
    for (int k = 0; k < n; ++k) {
      std::swap(a[c * n + k], a[p * n + k]);
      std::swap(inv[c * n + k], inv[p * n + k]);
    }
    const double d = a[c * n + c];
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
  return inv;
}

TEST(FoldIn, EqualsTheDenseExactPosterior) {
  const Ratings data = testing::planted_ratings(30, 20, 3, 6, 0.3, 2);
  const Model m = testing::random_model(data, 3, 1, 7);
  History h{{1, 4, 4, 9, 15}, {3.5f, 2.0f, 2.5f, 4.0f, 3.0f}};  // a repeated item is two entries
  const std::vector<double> prior_mean{0.1, -0.2, 0.3, 0.05}, prior_prec{2.0, 1.5, 3.0, 4.0};
  const FoldInResult got = fold_in_user(m, h, prior_mean.data(), prior_prec.data(), true);
  // The same Gaussian, built entry by entry from the model (x = [u; alpha]) and inverted densely.
  const int n = 4;
  std::vector<double> P(n * n, 0.0), b(n, 0.0);
  for (int k = 0; k < n; ++k) {
    P[k * n + k] = prior_prec[k];
    b[k] = prior_prec[k] * prior_mean[k];
  }
  for (size_t e = 0; e < h.items.size(); ++e) {
    const int j = h.items[e];
    double w[4], t2[3];
    for (int k = 0; k < 3; ++k) {
      w[k] = m.V.mean[j * m.V.stride + k];
      t2[k] = std::exp(2.0 * m.V.logsd[j * m.V.stride + k]);
    }
    w[3] = 1;
    for (int r = 0; r < n; ++r) {
      for (int c = 0; c < n; ++c)
        P[r * n + c] += (w[r] * w[c] + (r == c && r < 3 ? t2[r] : 0)) / m.sigma2;
      b[r] += (h.values[e] - m.mu0 - m.V.bias_mean[j]) * w[r] / m.sigma2;
    }
  }
  const std::vector<double> cov = invert(P, n);
  for (int r = 0; r < n; ++r) {
    double mean = 0;
    for (int c = 0; c < n; ++c) mean += cov[r * n + c] * b[c];
    EXPECT_NEAR(got.mean[r], mean, 1e-9 * std::max(1.0, std::fabs(mean)));
    EXPECT_NEAR(got.var[r], cov[r * n + r], 1e-9);
    for (int c = 0; c < n; ++c) EXPECT_NEAR(got.covariance[r * n + c], cov[r * n + c], 1e-9);
  }
}

TEST(FoldIn, ZeroHistoryIsTheGroupPrior) {
  const Ratings data = testing::planted_ratings(30, 20, 3, 6, 0.3, 2);
  const Model m = testing::random_model(data, 3, 2, 7);
  std::vector<double> mean, prec;
  user_prior(m, 1, mean, prec);
  const FoldInResult got = fold_in_user(m, History{}, mean.data(), prec.data());
  for (int k = 0; k < 4; ++k) {
    EXPECT_NEAR(got.mean[k], mean[k], 1e-12);
    EXPECT_NEAR(got.var[k], 1.0 / prec[k], 1e-12);
  }
  EXPECT_DOUBLE_EQ(mean[0], m.user_prior.mean[1 * 3 + 0]);
  EXPECT_DOUBLE_EQ(mean[3], m.user_prior.bias_mean[1]);
}

TEST(FoldIn, FullHistoryLandsNearTheTrainedPosterior) {
  const Ratings data = testing::planted_ratings(200, 60, 2, 25, 0.3, 4);
  const Model m = trained_model(data, 2, 40);
  // Fold user0's whole history in again, as a new user, and compare predictions over all items.
  Ratings again;
  const int32_t me = again.users.insert("user0-again");
  for (size_t e = 0; e < data.size(); ++e)
    if (data.user[e] == 0)
      again.push(me, again.items.insert(data.items.name(data.item[e])), data.value[e]);
  Model folded = m;
  const FoldInReport r = fold_in_table(folded, again, nullptr, 1);
  EXPECT_EQ(r.added, 1u);
  EXPECT_EQ(r.entries_used, 25u);
  auto backend = make_cpu_backend(1);
  backend->load_model(folded);
  std::vector<int32_t> users{folded.users.find("user0"), folded.users.find("user0-again")};
  std::vector<float> mean(2 * m.V.n), var(2 * m.V.n);
  backend->score_all_items(users.data(), 2, mean.data(), var.data());
  double sq = 0, spread = 0, avg = 0;
  for (int j = 0; j < m.V.n; ++j) avg += mean[j] / m.V.n;
  for (int j = 0; j < m.V.n; ++j) {
    sq += std::pow(mean[j] - mean[m.V.n + j], 2);
    spread += std::pow(mean[j] - avg, 2);
  }
  EXPECT_LT(std::sqrt(sq / m.V.n), 0.1) << "fold-in and training agree on the user's predictions";
  EXPECT_LT(sq, 0.1 * spread);
  EXPECT_EQ(folded.user_count.back(), 25);
}

TEST(FoldIn, KnownUserIsUpdatedAndUnknownItemsAreCounted) {
  const Ratings data = testing::planted_ratings(50, 30, 2, 8, 0.3, 5);
  Model m = trained_model(data, 2, 10);
  Ratings extra;
  const int32_t u = extra.users.insert("user3");
  extra.push(u, extra.items.insert("item1"), 5.0f);
  extra.push(u, extra.items.insert("brand-new-item"), 4.0f);
  const float before = m.U.bias_mean[m.users.find("user3")];
  const FoldInReport r = fold_in_table(m, extra, nullptr, 1);
  EXPECT_EQ(r.updated, 1u);
  EXPECT_EQ(r.added, 0u);
  EXPECT_EQ(r.entries_unknown_item, 1u);
  EXPECT_NE(m.U.bias_mean[m.users.find("user3")], before);
  const int32_t me = m.users.find("user3"), item1 = m.items.find("item1");
  EXPECT_TRUE(std::binary_search(m.seen_items.begin() + m.seen_offsets[me],
                                 m.seen_items.begin() + m.seen_offsets[me + 1], item1));
}

class Recommend : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = testing::planted_ratings(60, 25, 2, 10, 0.3, 6);
    model_ = trained_model(data_, 2, 10);
    backend_ = make_cpu_backend(2);
    backend_->load_model(model_);
    for (int32_t u = 0; u < 5; ++u) {
      users_.push_back(u);
      seen_.emplace_back(model_.seen_items.begin() + model_.seen_offsets[u],
                         model_.seen_items.begin() + model_.seen_offsets[u + 1]);
    }
  }
  Ratings data_;
  Model model_;
  std::unique_ptr<Backend> backend_;
  std::vector<int32_t> users_;
  std::vector<std::vector<int32_t>> seen_;
};

TEST_F(Recommend, BlockedScoringEqualsPairwisePrediction) {
  // Trained users, a group prior row and the population row, against every item.
  std::vector<int32_t> who{0, 7, model_.U.n, model_.U.n + model_.user_prior.n_groups};
  const size_t items = static_cast<size_t>(model_.V.n);
  std::vector<float> mean(who.size() * items), var(who.size() * items);
  backend_->score_all_items(who.data(), who.size(), mean.data(), var.data());
  std::vector<PairIndex> pairs;
  for (int32_t u : who)
    for (size_t j = 0; j < items; ++j) pairs.push_back({u, static_cast<int32_t>(j)});
  std::vector<float> ref_mean(pairs.size()), ref_var(pairs.size());
  backend_->predict(pairs.data(), pairs.size(), ref_mean.data(), ref_var.data());
  for (size_t k = 0; k < pairs.size(); ++k) {
    ASSERT_NEAR(mean[k], ref_mean[k], 1e-5f * (1 + std::fabs(ref_mean[k]))) << "pair " << k;
    ASSERT_NEAR(var[k], ref_var[k], 1e-5f * (1 + ref_var[k])) << "pair " << k;
  }
}

TEST_F(Recommend, ExcludesSeenItemsAndSortsByScore) {
  RecommendOptions opt;
  opt.k = 5;
  const auto lists = recommend(*backend_, model_, users_, seen_, opt);
  for (size_t u = 0; u < users_.size(); ++u) {
    ASSERT_EQ(lists[u].size(), 5u);
    for (size_t r = 0; r < lists[u].size(); ++r) {
      EXPECT_FALSE(std::binary_search(seen_[u].begin(), seen_[u].end(), lists[u][r].item));
      if (r > 0) {
        EXPECT_GE(lists[u][r - 1].score, lists[u][r].score);
      }
      EXPECT_FLOAT_EQ(lists[u][r].score, lists[u][r].mean);
    }
  }
  opt.include_seen = true;
  opt.k = 25;
  const auto all = recommend(*backend_, model_, users_, seen_, opt);
  EXPECT_EQ(all[0].size(), 25u) << "include-seen ranks the whole catalog";
}

TEST_F(Recommend, KLargerThanTheCatalogReturnsEveryUnseenItem) {
  RecommendOptions opt;
  opt.k = 1000;
  const auto lists = recommend(*backend_, model_, users_, seen_, opt);
  for (size_t u = 0; u < users_.size(); ++u) {
    EXPECT_EQ(lists[u].size(), 25u - seen_[u].size());
    std::set<int32_t> distinct;
    for (const auto& r : lists[u]) distinct.insert(r.item);
    EXPECT_EQ(distinct.size(), lists[u].size());
  }
}

TEST_F(Recommend, ThompsonSamplingIsReproducibleForASeed) {
  RecommendOptions opt;
  opt.k = 8;
  opt.explore = Explore::kThompson;
  opt.seed = 11;
  const auto a = recommend(*backend_, model_, users_, seen_, opt);
  const auto b = recommend(*backend_, model_, users_, seen_, opt);
  opt.seed = 12;
  const auto c = recommend(*backend_, model_, users_, seen_, opt);
  bool differs = false;
  for (size_t u = 0; u < users_.size(); ++u)
    for (size_t r = 0; r < a[u].size(); ++r) {
      EXPECT_EQ(a[u][r].item, b[u][r].item);
      EXPECT_EQ(a[u][r].score, b[u][r].score);
      differs |= a[u][r].score != c[u][r].score;
    }
  EXPECT_TRUE(differs);
}

TEST_F(Recommend, UcbAddsBetaSds) {
  RecommendOptions opt;
  opt.k = 3;
  opt.explore = Explore::kUcb;
  opt.ucb_beta = 2.0;
  const auto lists = recommend(*backend_, model_, users_, seen_, opt);
  for (const auto& r : lists[0]) EXPECT_NEAR(r.score, r.mean + 2.0 * std::sqrt(r.var), 1e-4);
}

TEST(WarmStart, NoNewDataChangesLittle) {
  const Ratings data = testing::planted_ratings(100, 50, 2, 15, 0.3, 8);
  const Model old = trained_model(data, 2, 30);
  ModelConfig mc;
  mc.rank = 2;
  TrainInputs in;
  in.train = &data;
  in.warm_start = &old;
  TrainConfig tc = testing::quiet_training(2, 512);
  tc.lr = 0.003f;
  auto backend = make_cpu_backend(2);
  const Model fresh = train(in, mc, tc, *backend);
  double diff = 0, scale = 0;
  for (size_t k = 0; k < old.U.mean.size(); ++k) {
    diff += std::pow(fresh.U.mean[k] - old.U.mean[k], 2);
    scale += std::pow(old.U.mean[k], 2);
  }
  EXPECT_LT(diff, 0.01 * scale);
  EXPECT_NEAR(fresh.history.front().train_rmse, old.history.back().train_rmse, 0.02);
  mc.rank = 3;
  EXPECT_THROW(train(in, mc, tc, *backend), Error);
}

TEST(GivenN, HeldOutEntriesNeverReachTraining) {
  const Ratings data = testing::planted_ratings(200, 40, 2, 9, 0.3, 9);
  GivenNConfig c;
  c.ns = {0, 1, 3};
  c.holdout_users = 0.25;
  const GivenNSplit s = given_n_split(data, c);
  EXPECT_EQ(s.max_n, 3);
  EXPECT_GT(s.users.size(), 20u);
  for (const auto& id : s.users)
    EXPECT_LT(s.train.users.find(id), 0) << id << " is held out but in training";
  size_t held_entries = 0;
  for (const auto& e : s.entries) {
    EXPECT_GT(e.size(), 3u);
    held_entries += e.size();
  }
  EXPECT_EQ(s.train.size() + held_entries, data.size());
}

}  // namespace
}  // namespace ppmf
