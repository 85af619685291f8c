// Serving mostly-new users: fold-in against a dense solve and against training, zero-history
// priors, recommendation rules, Thompson reproducibility, warm starts and the given-N split.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "cpu_backend.hpp"
#include "ppmf/coldstart.hpp"
#include "ppmf/evaluate.hpp"
#include "ppmf/foldin.hpp"
#include "ppmf/groups.hpp"
#include "ppmf/json.hpp"
#include "ppmf/predict.hpp"
#include "ppmf/recommend.hpp"
#include "ppmf/scheduler.hpp"
#include "ppmf/side_priors.hpp"
#include "test_util.hpp"

namespace ppmf {
namespace {

Model trained_model(const Ratings& data, int rank, int epochs) {
  ModelConfig mc;
  mc.rank = rank;
  TrainInputs in;
  in.train = &data;
  auto backend = make_cpu_backend(2);
  return train(in, mc, testing::epochs_config(epochs), *backend).model;
}

TEST(FoldIn, EqualsTheDenseExactPosterior) {
  const Ratings data = testing::planted_ratings(30, 20, 3, 6, 0.3, 2);
  const Model m = testing::random_model(data, 3, 1, 7);
  History h{{1, 4, 4, 9, 15}, {3.5f, 2.0f, 2.5f, 4.0f, 3.0f}};  // a repeated item is two entries
  // A prior with correlations between the factors and the bias.
  const int n = 4;
  const std::vector<double> prior_mean{0.1, -0.2, 0.3, 0.05};
  const std::vector<double> prior_prec{2.0, 0.3, 0.0, -0.4, 0.3, 1.5, 0.2, 0.0,
                                       0.0, 0.2, 3.0, 0.5,  -0.4, 0.0, 0.5, 4.0};
  const FoldInResult got = fold_in_user(m, h, prior_mean.data(), prior_prec.data(), true);
  // The same Gaussian, built entry by entry from the model (x = [u; alpha]) and inverted densely.
  std::vector<double> P = prior_prec, b(n, 0.0);
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c) b[r] += prior_prec[r * n + c] * prior_mean[c];
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
  const std::vector<double> cov = testing::dense_inverse(P, n);
  for (int r = 0; r < n; ++r) {
    double mean = 0;
    for (int c = 0; c < n; ++c) mean += cov[r * n + c] * b[c];
    EXPECT_NEAR(got.mean[r], mean, 1e-6 * std::max(1.0, std::fabs(mean)));
    EXPECT_NEAR(got.var[r], cov[r * n + r], 1e-6 * cov[r * n + r]);
    for (int c = 0; c < n; ++c)
      EXPECT_NEAR(got.covariance[r * n + c], cov[r * n + c], 1e-6 * std::fabs(cov[r * n + r]));
  }
}

TEST(FoldIn, ZeroHistoryIsTheGroupPrior) {
  const Ratings data = testing::planted_ratings(30, 20, 3, 6, 0.3, 2);
  const Model m = testing::random_model(data, 3, 2, 7);
  std::vector<double> mean, prec;
  new_user_prior(m, 1, 0, /*plain=*/true, mean, prec);
  const FoldInResult got = fold_in_user(m, History{}, mean.data(), prec.data());
  for (int k = 0; k < 4; ++k) {
    EXPECT_NEAR(got.mean[k], m.user_prior.mean_of(1)[k], 1e-6);
    EXPECT_NEAR(got.var[k], m.user_prior.cov_of(1)[k * 4 + k], 1e-6);
  }
}

// compute_new_user_prior against the definition: per group and n, the mean of the members with
// more than n entries weighted by (count - n); the plain group mean where fewer than 30 qualify.
TEST(NewUserPrior, WeightsMembersByTheEntriesTheyGoOnToMake) {
  const Ratings data = testing::planted_ratings(90, 20, 2, 4, 0.3, 12);
  Model m = testing::random_model(data, 2, 2, 5);
  Rng rng(9);
  for (auto& c : m.user_count) c = 1 + static_cast<int32_t>(rng.below(12));
  m.user_count[7] = 0;  // no data: not a member
  compute_new_user_prior(m);
  const int dim = 3;
  ASSERT_GE(m.new_users.max_n, 5);
  EXPECT_EQ(m.new_users.groups, 2);
  for (int g = -1; g < 2; ++g) {
    for (int n = 0; n <= m.new_users.max_n; ++n) {
      double w = 0, members = 0, sum[3] = {0, 0, 0};
      for (int i = 0; i < m.U.n; ++i) {
        if ((g >= 0 && m.user_groups.of[i] != g) || m.user_count[i] <= n) continue;
        const double wi = m.user_count[i] - n;
        w += wi;
        ++members;
        for (int k = 0; k < 2; ++k) sum[k] += wi * m.U.mean[i * m.U.stride + k];
        sum[2] += wi * m.U.bias_mean[i];
      }
      const float* got = m.new_users.mean_of(g, n, dim);
      ASSERT_NE(got, nullptr);
      for (int k = 0; k < dim; ++k) {
        if (members >= kMinSizeBiasedMembers) {
          EXPECT_NEAR(got[k], sum[k] / w, 1e-5) << "group " << g << " n " << n;
        } else if (g >= 0) {
          EXPECT_EQ(got[k], m.user_prior.mean_of(g)[k]) << "too few members: the plain mean";
        }
      }
    }
  }
  EXPECT_EQ(m.new_users.mean_of(0, m.new_users.max_n + 1, dim), nullptr);
  EXPECT_EQ(m.new_users.mean_of(2, 0, dim), nullptr) << "a group added later has no rows";
}

// When heavy users rate lower, a new user's prior follows the users who will make most entries;
// --plain-prior (plain = true) keeps the group mean. Fold-in and zero-history predictions use it.
TEST(NewUserPrior, ServesNewUsersUnlessPlainIsAsked) {
  Rng rng(21);
  Ratings r;
  for (int j = 0; j < 60; ++j) r.items.insert("i" + std::to_string(j));
  for (int i = 0; i < 900; ++i) {
    const int32_t u = r.users.insert("u" + std::to_string(i));
    const int n = i % 3 == 0 ? 20 + static_cast<int>(rng.below(20)) : 1 + static_cast<int>(rng.below(2));
    const double bias = n > 10 ? -1.0 : 1.0;  // heavy users rate lower
    for (int e = 0; e < n; ++e)
      r.push(u, static_cast<int32_t>((i * 7 + e * 11) % 60),
             static_cast<float>(3.0 + bias + 0.3 * rng.normal()));
  }
  const Model m = trained_model(r, 0, 15);
  const float* biased = m.new_users.mean_of(0, 0, 1);
  ASSERT_NE(biased, nullptr);
  EXPECT_LT(biased[0], m.user_prior.mean_of(0)[0] - 0.5) << "pulled towards the heavy users";
  Ratings fresh;
  fresh.push(fresh.users.insert("newcomer"), fresh.items.insert("i3"), 3.0f);
  Model a = m, b = m;
  fold_in_table(a, fresh, nullptr);
  FoldInOptions plain;
  plain.plain_prior = true;
  fold_in_table(b, fresh, nullptr, plain);
  EXPECT_LT(a.U.bias_mean.back(), b.U.bias_mean.back());
  // Zero history: the new-user prior row, or the plain population row with plain = true.
  Ratings pair;
  pair.push(pair.users.insert("stranger"), pair.items.insert("i3"), 0.f);
  auto backend = make_cpu_backend(1);
  backend->load_model(m);
  const Predictions sized = predict_table(*backend, m, pair, nullptr, nullptr);
  const Predictions flat = predict_table(*backend, m, pair, nullptr, nullptr, /*plain=*/true);
  EXPECT_NEAR(flat.mean[0] - sized.mean[0], m.user_prior.mean_of(0)[0] - biased[0], 1e-4);
  EXPECT_NEAR(flat.var[0], sized.var[0], 1e-5);
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
  const FoldInReport r = fold_in_table(folded, again, nullptr);
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
  const FoldInReport r = fold_in_table(m, extra, nullptr);
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
  // Trained users, a group prior row, the population row and a new user's row (full covariances),
  // against every item.
  std::vector<int32_t> who{0, 7, prior_index(model_, Side::kUsers, 0),
                           population_index(model_, Side::kUsers), new_user_index(model_, -1), 3};
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
  opt.objective = Objective::kMinutes;  // the minutes part's mechanics
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
  opt.objective = Objective::kMinutes;  // the minutes part's mechanics
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
  opt.objective = Objective::kMinutes;  // the minutes part's mechanics
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

// Users by id: known ones exclude what they have seen, unknown ones rank from their prior, the same
// lists as the index-level call given the same rows and seen lists.
TEST_F(Recommend, ByIdEqualsByIndex) {
  RecommendOptions opt;
  opt.objective = Objective::kMinutes;  // the minutes part's mechanics
  opt.k = 6;
  const std::vector<std::string> ids{"user0", "someone-new", "user3"};
  const auto by_id = recommend(*backend_, model_, ids, opt);
  const std::vector<int32_t> rows{model_.users.find("user0"), new_user_index(model_, -1),
                                  model_.users.find("user3")};
  std::vector<std::vector<int32_t>> seen(3);
  for (const size_t k : {0, 2}) {
    const ItemList s = seen_items_of(model_, rows[k]);
    seen[k].assign(s.begin(), s.end());
    EXPECT_FALSE(seen[k].empty());
  }
  EXPECT_TRUE(seen_items_of(model_, rows[1]).empty()) << "a prior row has seen nothing";
  const auto by_index = recommend(*backend_, model_, rows, seen, opt);
  ASSERT_EQ(by_id.size(), 3u);
  for (size_t u = 0; u < 3; ++u) {
    ASSERT_EQ(by_id[u].size(), by_index[u].size());
    for (size_t r = 0; r < by_id[u].size(); ++r) EXPECT_EQ(by_id[u][r].item, by_index[u][r].item);
  }
  opt.candidates = find_items(model_, {"item3", "item1"});
  EXPECT_EQ(opt.candidates, (std::vector<int32_t>{model_.items.find("item3"), model_.items.find("item1")}));
  EXPECT_THROW(find_items(model_, {"item1", "no-such-item"}), Error);
}

// evaluate() against the pieces it is made of: predictions scored entry by entry, and each user's
// list (its prior's for an unknown user) scored against its relevant entries.
TEST_F(Recommend, EvaluateEqualsAHandComputation) {
  Ratings table;
  const auto add = [&](const char* u, const char* i, float v) {
    table.push(table.users.insert(u), table.items.insert(i), v);
  };
  add("user1", "item2", 4.5f);
  add("user1", "item7", 1.0f);
  add("newbie", "item4", 5.0f);
  add("newbie", "unknown-item", 5.0f);
  add("user9", "item11", 3.0f);
  EvalOptions opt;
  opt.objective = Objective::kMinutes;
  opt.k = 5;
  opt.has_relevant = true;
  opt.relevant = 2.0;
  const EvalReport r = evaluate(*backend_, model_, table, opt);
  const Predictions p = predict_table(*backend_, model_, table, nullptr, nullptr);
  MetricSums sums;
  for (size_t e = 0; e < table.size(); ++e) sums.add(table.value[e], p.mean[e], p.var[e]);
  const Metrics want = sums.finish();
  EXPECT_EQ(r.overall.n, 5u);
  EXPECT_DOUBLE_EQ(r.overall.rmse, want.rmse);
  EXPECT_DOUBLE_EQ(r.overall.nll, want.nll);
  EXPECT_EQ(r.buckets[0].n, 2u) << "newbie's entries fall in the no-history bucket";
  // Ranking: user1 (relevant item2), newbie (relevant item4; unknown-item is not in the catalog),
  // user9 (relevant item11).
  const std::vector<int32_t> rows{model_.users.find("user1"), new_user_index(model_, -1),
                                  model_.users.find("user9")};
  std::vector<std::vector<int32_t>> seen(3), relevant{{model_.items.find("item2")},
                                                      {model_.items.find("item4")},
                                                      {model_.items.find("item11")}};
  for (size_t k = 0; k < 3; ++k) {
    const ItemList s = seen_items_of(model_, rows[k]);
    seen[k].assign(s.begin(), s.end());
  }
  RecommendOptions five;
  five.objective = Objective::kMinutes;  // the minutes part's mechanics
  five.k = 5;
  const RankingMetrics k = rank_and_score(*backend_, model_, rows, seen, relevant, five);
  EXPECT_EQ(r.ranking.users, 3u);
  EXPECT_DOUBLE_EQ(r.ranking.recall, k.recall);
  EXPECT_DOUBLE_EQ(r.ranking.ndcg, k.ndcg);
  // By the user's training entries: newbie alone in the no-history bucket, each user once, and the
  // buckets' users weighing up to the whole.
  ASSERT_EQ(r.ranking_buckets.size(), r.bucket_names.size());
  const RankingMetrics newbie = rank_and_score(*backend_, model_, {rows[1]}, {seen[1]},
                                               {relevant[1]}, five);
  EXPECT_EQ(r.ranking_buckets[0].users, 1u);
  EXPECT_DOUBLE_EQ(r.ranking_buckets[0].ndcg, newbie.ndcg);
  EXPECT_DOUBLE_EQ(r.popular_buckets[0].recall,
                   most_popular_and_score(model_, {seen[1]}, {relevant[1]}, 5).recall);
  size_t users = 0;
  double recall = 0, popular_recall = 0;
  for (size_t b = 0; b < r.ranking_buckets.size(); ++b) {
    users += r.ranking_buckets[b].users;
    recall += r.ranking_buckets[b].recall * static_cast<double>(r.ranking_buckets[b].users);
    popular_recall += r.popular_buckets[b].recall * static_cast<double>(r.popular_buckets[b].users);
  }
  EXPECT_EQ(users, 3u);
  EXPECT_NEAR(recall / 3, r.ranking.recall, 1e-12);
  EXPECT_NEAR(popular_recall / 3, r.popular.recall, 1e-12);
  // In JSON, buckets without entries have null metrics (never NaN, which JSON cannot hold).
  const std::string json = to_json(r);
  EXPECT_NE(json.find("\"rmse\": null"), std::string::npos) << json;
  EXPECT_EQ(json.find("nan"), std::string::npos) << json;
  EXPECT_NE(json.find("\"ranking_by_user_history\""), std::string::npos) << json;
  opt.k = 0;
  EXPECT_THROW(evaluate(*backend_, model_, table, opt), ConfigError);
}

TEST_F(Recommend, UcbAddsBetaSds) {
  RecommendOptions opt;
  opt.objective = Objective::kMinutes;  // the minutes part's mechanics
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
  TrainConfig tc = testing::epochs_config(1);
  tc.valid_frac = 0;
  auto backend = make_cpu_backend(2);
  const Model fresh = train(in, mc, tc, *backend).model;
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
