// The watch model: its row solves with implicit zeros against the full computation over every
// user x item pair, fold-in against the same reference, the model file round trip, the ranking
// objectives against hand computations, and what it learns on data where users watch by taste.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "cpu_backend.hpp"
#include "ppmf/evaluate.hpp"
#include "ppmf/foldin.hpp"
#include "ppmf/model_file.hpp"
#include "ppmf/ranking.hpp"
#include "ppmf/recommend.hpp"
#include "ppmf/scheduler.hpp"
#include "ppmf/side_priors.hpp"
#include "ppmf/split.hpp"
#include "ppmf/synth.hpp"
#include "ppmf/watch.hpp"
#include "test_util.hpp"

namespace ppmf {
namespace {

// Sparse random entries over awkward sizes, every user and item with at least one.
Ratings random_entries(int users, int items, uint64_t seed) {
  Rng rng(seed);
  Ratings r;
  for (int i = 0; i < users; ++i) r.users.insert("u" + std::to_string(i));
  for (int j = 0; j < items; ++j) r.items.insert("i" + std::to_string(j));
  std::set<std::pair<int, int>> seen;
  for (int i = 0; i < users; ++i) seen.insert({i, i % items});
  for (int j = 0; j < items; ++j) seen.insert({j % users, j});
  while (seen.size() < static_cast<size_t>(users * items / 4))
    seen.insert({static_cast<int>(rng.below(users)), static_cast<int>(rng.below(items))});
  for (const auto& [i, j] : seen) r.push(i, j, 1.0f);
  return r;
}

// The exact posterior of row i of `side`, computed by materialising every pair: precision
// P0 + sum_j c_ij E[w_j w_j^T], P0 M + sum_j c_ij (p_ij - beta_j) w_j, with c_ij = w0 + alpha and
// p_ij = 1 for an entry, c_ij = w0 and p_ij = 0 for every other pair.
void reference_row(const Model& m, const Ratings& r, bool users, int32_t i, double w0,
                   double alpha, std::vector<double>& mean, std::vector<double>& var) {
  const int d = m.rank(), n = d + 1;
  const GuideBlock& other = users ? m.V : m.U;
  const PriorBlock& prior = users ? m.user_prior : m.item_prior;
  const int g = users ? m.user_groups.of[i] : m.item_groups.of[i];
  std::vector<double> cov(prior.cov_of(g), prior.cov_of(g) + n * n);
  std::vector<double> P = testing::dense_inverse(cov, n), b(n, 0.0);
  for (int a = 0; a < n; ++a)
    for (int c = 0; c < n; ++c) b[a] += P[a * n + c] * prior.mean_of(g)[c];
  std::set<int32_t> watched;
  for (size_t e = 0; e < r.size(); ++e)
    if ((users ? r.user[e] : r.item[e]) == i) watched.insert(users ? r.item[e] : r.user[e]);
  for (int32_t j = 0; j < other.n; ++j) {
    const bool hit = watched.count(j) > 0;
    const double c = hit ? w0 + alpha : w0, p = hit ? 1.0 : 0.0;
    std::vector<double> w(n), v(n, 0.0);
    for (int k = 0; k < d; ++k) {
      w[k] = other.mean_row(j)[k];
      v[k] = std::exp(2.0 * other.logsd_row(j)[k]);
    }
    w[d] = 1.0;
    const double beta = other.bias_mean[j];
    for (int a = 0; a < n; ++a) {
      b[a] += c * (p - beta) * w[a];
      for (int k = 0; k < n; ++k) P[a * n + k] += c * (w[a] * w[k] + (a == k ? v[a] : 0.0));
    }
  }
  const std::vector<double> S = testing::dense_inverse(P, n);
  mean.assign(n, 0.0);
  var.assign(n, 0.0);
  for (int a = 0; a < n; ++a) {
    for (int k = 0; k < n; ++k) mean[a] += S[a * n + k] * b[k];
    var[a] = S[a * n + a];
  }
}

TEST(Watch, RowSolvesWithImplicitZerosEqualTheFullComputation) {
  const Ratings r = random_entries(37, 23, 5);
  for (const int rank : {0, 3, 9}) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    Model m = testing::random_model(r, rank, 3, 11 + rank);
    m.mu0 = 0;
    m.sigma2 = 1;
    const float w0 = 0.7f, alpha = 2.5f;
    for (const Side side : {Side::kUsers, Side::kItems}) {
      auto backend = make_cpu_backend(3);
      backend->load_model(m);
      backend->set_implicit(w0);
      backend->load_training(r.user, r.item, std::vector<float>(r.size(), w0 + alpha));
      const bool users = side == Side::kUsers;
      backend->solve_rows(side, 0, users ? m.U.n : m.V.n);
      Model out = m;
      backend->store_guide(out);
      const GuideBlock& g = users ? out.U : out.V;
      for (int32_t i = 0; i < g.n; ++i) {
        std::vector<double> mean, var;
        reference_row(m, r, users, i, w0, alpha, mean, var);
        for (int k = 0; k < rank; ++k) {
          EXPECT_NEAR(g.mean_row(i)[k], mean[k], 2e-4 * (1 + std::fabs(mean[k]))) << i;
          EXPECT_NEAR(std::exp(2.0 * g.logsd_row(i)[k]), var[k], 2e-4 * var[k]) << i;
        }
        EXPECT_NEAR(g.bias_mean[i], mean[rank], 2e-4 * (1 + std::fabs(mean[rank]))) << i;
      }
    }
  }
}

// fold_in_watch solves a user's watch row from all of its seen items: the reference again.
TEST(Watch, FoldInEqualsTheFullComputation) {
  const Ratings r = random_entries(29, 17, 8);
  const Model base = testing::random_model(r, 4, 2, 3);
  Model m = base;
  m.watch.present = true;
  m.watch.config.rank = 4;
  m.watch.config.alpha = 3.0f;
  m.watch.config.zero_weight = 1.5f;
  m.watch.U = base.U;
  m.watch.V = base.V;
  m.watch.user_prior = base.user_prior;
  m.watch.item_prior = base.item_prior;
  fold_in_watch(m, {0, 5, 28}, 2);
  Model view = base;  // the reference reads the watch part's guide and priors in these fields
  for (const int32_t i : {0, 5, 28}) {
    std::vector<double> mean, var;
    reference_row(view, r, true, i, 1.5, 3.0, mean, var);
    for (int k = 0; k < 4; ++k)
      EXPECT_NEAR(m.watch.U.mean_row(i)[k], mean[k], 2e-4 * (1 + std::fabs(mean[k])));
    EXPECT_NEAR(m.watch.U.bias_mean[i], mean[4], 2e-4 * (1 + std::fabs(mean[4])));
  }
  EXPECT_EQ(m.watch.U.mean_row(1)[0], base.U.mean_row(1)[0]) << "other rows are left alone";
}

// Minutes watched where the videos a user starts follow its taste: the watch model must find
// them, and rank held-out views well above popularity (1.5x at this seed; 1.3x asked) and above
// ranking by minutes-if-watched.
TEST(Watch, FindsWhatUsersWatchWhenTasteDrivesIt) {
  SynthConfig sc;
  sc.users = 1500;
  sc.items = 400;
  sc.taste_exposure = 6.0;
  sc.new_user_frac = 0.2;
  sc.seed = 3;
  const SynthData data = generate_synth(sc);
  const Split split = split_random(data.ratings, 0.1, 1);
  ModelConfig mc;
  mc.rank = 8;
  mc.transform = Transform::kLog1p;
  TrainInputs in;
  in.train = &split.train;
  in.user_groups = &data.user_groups;
  in.item_groups = &data.item_groups;
  auto backend = make_cpu_backend(2);
  const Model m = train(in, mc, testing::epochs_config(15), *backend).model;
  ASSERT_TRUE(m.watch.present);
  EXPECT_GT(m.watch.config.alpha, 0);
  backend->load_model(m);
  EvalOptions opt;
  opt.relevant_all = true;
  const EvalReport r = evaluate(*backend, m, split.test, opt);
  EXPECT_EQ(r.objective, Objective::kWatch);
  EXPECT_GT(r.ranking.recall, 1.3 * r.popular.recall)
      << "watch " << r.ranking.recall << " vs most popular " << r.popular.recall;
  EXPECT_GT(r.ranking.coverage, r.popular.coverage);
  opt.objective = Objective::kMinutes;
  EXPECT_GT(r.ranking.recall, evaluate(*backend, m, split.test, opt).ranking.recall)
      << "ranking by minutes-if-watched ignores what users start";
}

// A new user's watch scores come from its group's plain watch prior, not from the size-biased
// prior of the minutes part: the users who watched one item each all started with the same one,
// heavy users watched many others; weighted by the views members go on to make, the heavy users'
// catalog would score twice their share (0.96 against 0.43 here).
TEST(Watch, NewUsersStartFromThePlainGroupPrior) {
  Ratings r;
  const int light = 300, heavy = 200, heavy_items = 40;
  for (int j = 0; j <= heavy_items; ++j) r.items.insert("i" + std::to_string(j));
  for (int i = 0; i < light + heavy; ++i) r.users.insert("u" + std::to_string(i));
  for (int i = 0; i < light; ++i) r.push(i, 0, 5.0f);
  for (int i = light; i < light + heavy; ++i)
    for (int j = 1; j <= heavy_items; ++j) r.push(i, j, 5.0f);
  ModelConfig mc;
  mc.rank = 2;
  TrainInputs in;
  in.train = &r;
  TrainConfig tc = testing::epochs_config(5);
  tc.watch.alpha = 8;
  tc.watch.zero_weight = 1;
  auto backend = make_cpu_backend(2);
  const Model m = train(in, mc, tc, *backend).model;
  ASSERT_GE(m.new_users.max_n, 0) << "the minutes part has a size-biased prior to avoid";
  const Model view = watch_view(m);
  auto watch = make_cpu_backend(1);
  watch->load_model(view);
  const int items = heavy_items + 1;
  std::vector<PairIndex> fresh, plain;
  for (int j = 0; j < items; ++j) {
    fresh.push_back({new_user_index(view, 0), j});
    plain.push_back({prior_index(view, Side::kUsers, 0), j});
  }
  std::vector<float> fresh_mean(items), plain_mean(items), var(items);
  watch->predict(fresh.data(), items, fresh_mean.data(), var.data());
  watch->predict(plain.data(), items, plain_mean.data(), var.data());
  EXPECT_THAT(fresh_mean, ::testing::Pointwise(::testing::FloatEq(), plain_mean));
  EXPECT_EQ(std::max_element(fresh_mean.begin(), fresh_mean.end()) - fresh_mean.begin(), 0)
      << "a new user's first pick is what most users start with";
}

// A warm start carries the watch part as it carries the value part: from a converged model on
// the same data, one sweep changes its watch rows little (a cold sweep lands far from them), and
// the old weights (ones the search never tries) are kept when this run leaves them to the data,
// their ratio when it gives one. A watch part of another rank starts afresh.
TEST(Watch, WarmStartCarriesTheWatchPart) {
  const Ratings r = random_entries(70, 45, 6);
  ModelConfig mc;
  mc.rank = 3;
  TrainInputs in;
  in.train = &r;
  TrainConfig tc = testing::epochs_config(8);
  tc.watch.epochs = 30;
  tc.watch.alpha = 3;
  tc.watch.zero_weight = 0.5;
  auto backend = make_cpu_backend(2);
  const Model old = train(in, mc, tc, *backend).model;
  ASSERT_TRUE(old.watch.present);
  // Of the watch scores' posterior means over every pair, relative to the spread of the old
  // model's (the factors alone may shrink to nearly nothing on data this small).
  const auto scores = [](const Model& m) {
    const WatchPart& w = m.watch;
    std::vector<double> s;
    for (int i = 0; i < w.U.n; ++i)
      for (int j = 0; j < w.V.n; ++j) {
        double f = w.U.bias_mean[i] + w.V.bias_mean[j];
        for (int k = 0; k < w.config.rank; ++k) f += w.U.mean_row(i)[k] * w.V.mean_row(j)[k];
        s.push_back(f);
      }
    return s;
  };
  const std::vector<double> old_scores = scores(old);
  double old_mean = 0;
  for (const double s : old_scores) old_mean += s / static_cast<double>(old_scores.size());
  const auto distance = [&](const Model& m) {
    const std::vector<double> s = scores(m);
    double diff = 0, spread = 0;
    for (size_t k = 0; k < s.size(); ++k) {
      diff += std::pow(s[k] - old_scores[k], 2);
      spread += std::pow(old_scores[k] - old_mean, 2);
    }
    return diff / spread;
  };
  tc.watch.epochs = 1;
  tc.watch.alpha = 0;
  tc.watch.zero_weight = 0;
  in.warm_start = &old;
  const Model warm = train(in, mc, tc, *backend).model;
  EXPECT_EQ(warm.watch.config.alpha, 3.0f);
  EXPECT_EQ(warm.watch.config.zero_weight, 0.5f);
  tc.watch.zero_weight = 2;
  EXPECT_EQ(train(in, mc, tc, *backend).model.watch.config.alpha, 12.0f) << "the ratio is kept";
  in.warm_start = nullptr;
  tc.watch.alpha = 3;
  tc.watch.zero_weight = 0.5;
  const Model cold = train(in, mc, tc, *backend).model;
  EXPECT_LT(distance(warm), 1e-3);
  EXPECT_GT(distance(cold), 10 * distance(warm));
  in.warm_start = &old;
  tc.watch.rank = 4;
  const Model other = train(in, mc, tc, *backend).model;
  EXPECT_EQ(other.watch.config.rank, 4);
}

// Each objective ranks by its formula: the watch score, the value if watched, or their product
// (clamped watch score x the expected value on the original scale), checked item by item
// against predictions of both parts; Thompson draws of both parts are reproducible.
TEST(Watch, ObjectivesRankByTheirFormulas) {
  const Ratings r = random_entries(40, 30, 4);
  Ratings minutes = r;
  Rng rng(2);
  for (float& v : minutes.value) v = static_cast<float>(1 + 30 * rng.uniform());
  ModelConfig mc;
  mc.rank = 3;
  mc.transform = Transform::kLog1p;
  TrainInputs in;
  in.train = &minutes;
  auto backend = make_cpu_backend(2);
  const Model m = train(in, mc, testing::epochs_config(6), *backend).model;
  backend->load_model(m);
  auto watch = make_cpu_backend(1);
  watch->load_model(watch_view(m));
  const std::vector<int32_t> users{0, 7, 39};
  std::vector<std::vector<int32_t>> seen;
  for (const int32_t u : users) {
    const ItemList s = seen_items_of(m, u);
    seen.emplace_back(s.begin(), s.end());
  }
  for (const Objective o : {Objective::kWatch, Objective::kMinutes, Objective::kExpected}) {
    SCOPED_TRACE(to_string(o));
    RecommendOptions opt;
    opt.k = 30;
    opt.objective = o;
    opt.watch = watch.get();
    const auto lists = recommend(*backend, m, users, seen, opt);
    for (size_t u = 0; u < users.size(); ++u) {
      ASSERT_EQ(lists[u].size(), 30 - seen[u].size());
      for (const Recommendation& rec : lists[u]) {
        PairIndex pair{users[u], rec.item};
        float mean, var, wmean, wvar;
        backend->predict(&pair, 1, &mean, &var);
        watch->predict(&pair, 1, &wmean, &wvar);
        const double expected =
            o == Objective::kWatch     ? wmean
            : o == Objective::kMinutes ? mean
                                       : std::clamp<double>(wmean, 0, 1) *
                                             std::expm1(mean + 0.5 * var);
        EXPECT_NEAR(rec.score, expected, 1e-4 * (1 + std::fabs(expected)));
        EXPECT_NEAR(rec.watch, wmean, 1e-5);
      }
      for (size_t k = 1; k < lists[u].size(); ++k)
        EXPECT_GE(lists[u][k - 1].score, lists[u][k].score);
    }
  }
  RecommendOptions thompson;
  thompson.explore = Explore::kThompson;
  thompson.objective = Objective::kExpected;
  thompson.watch = watch.get();
  const auto a = recommend(*backend, m, users, seen, thompson);
  const auto b = recommend(*backend, m, users, seen, thompson);  // a CPU watch backend of its own
  thompson.watch = nullptr;
  const auto c = recommend(*backend, m, users, seen, thompson);
  for (size_t u = 0; u < users.size(); ++u)
    for (size_t k = 0; k < a[u].size(); ++k) {
      EXPECT_EQ(a[u][k].item, b[u][k].item);
      EXPECT_EQ(a[u][k].item, c[u][k].item);
    }
}

}  // namespace
}  // namespace ppmf
