// Training end to end through the scheduler on the CPU backend: recovery of a planted model,
// shrinkage of light users to their group, determinism, batching, and priors for unseen ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "cpu_backend.hpp"
#include "ppmf/groups.hpp"
#include "ppmf/permutation.hpp"
#include "ppmf/predict.hpp"
#include "ppmf/scheduler.hpp"
#include "ppmf/split.hpp"
#include "test_util.hpp"

namespace ppmf {
namespace {

TEST(Batching, NearEqualBatchesCoverEverything) {
  const auto b = batch_boundaries(10001, 4096);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b.back(), 10001u);
  for (size_t k = 0; k + 1 < b.size(); ++k) {
    EXPECT_GE(b[k + 1] - b[k], 3333u);
    EXPECT_LE(b[k + 1] - b[k], 3334u);
  }
  EXPECT_EQ(batch_boundaries(7, 0), (std::vector<size_t>{0, 7}));
}

TEST(Batching, PermutationIsSeededCompleteAndOrderedByKey) {
  std::vector<uint32_t> a, b, c;
  random_permutation(7, 100000, a);
  random_permutation(7, 100000, b);
  random_permutation(8, 100000, c);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<uint32_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (uint32_t k = 0; k < sorted.size(); ++k) ASSERT_EQ(sorted[k], k);
  const uint64_t base = splitmix64(7);
  for (size_t r = 1; r < a.size(); ++r)
    ASSERT_LT(permutation_key(base, a[r - 1]), permutation_key(base, a[r]));
}

TEST(Training, RecoversAPlantedModel) {
  std::vector<float> truth;
  const double noise = 0.3;
  const Ratings all = testing::planted_ratings(400, 300, 3, 30, noise, 21, &truth);
  const Split split = split_random(all, 0.1, 5);
  ModelConfig mc;
  mc.rank = 3;
  auto backend = make_cpu_backend(2);
  TrainInputs in;
  in.train = &split.train;
  in.test = &split.test;
  const Model m = train(in, mc, testing::quiet_training(80, 1024), *backend);
  const EpochMetrics& best = m.history[m.best_epoch - 1];
  EXPECT_LT(best.test_rmse, 1.2 * noise) << "held-out RMSE should approach the noise level";
  EXPECT_NEAR(std::sqrt(m.sigma2), noise, 0.1 * noise);
  // The ELBO improves over training.
  EXPECT_GT(m.history.back().elbo_per_entry, m.history.front().elbo_per_entry);
}

// Two user groups with very different mean engagement (bias): a user with a single, extreme
// observation stays near its group; a user with many observations follows its data.
TEST(Training, LightUsersShrinkToTheirGroupHeavyUsersDoNot) {
  Rng rng(8);
  Ratings r;
  GroupFile groups;
  const int users = 300, items = 80;
  for (int j = 0; j < items; ++j) r.items.insert("i" + std::to_string(j));
  std::vector<double> item_bias(items);
  for (auto& b : item_bias) b = 0.3 * rng.normal();
  auto add_user = [&](const std::string& id, const std::string& group, double bias, int views) {
    const int u = r.users.insert(id);
    groups[id] = group;
    for (int v = 0; v < views; ++v) {
      const int j = (u * 7 + v * 13) % items;
      r.push(u, j, static_cast<float>(3.0 + bias + item_bias[j] + 0.5 * rng.normal()));
    }
  };
  for (int i = 0; i < users; ++i) {
    const bool a = i % 2 == 0;
    add_user("u" + std::to_string(i), a ? "A" : "B", (a ? 1.0 : -1.0) + 0.3 * rng.normal(), 20);
  }
  add_user("heavy", "A", 2.5, 70);
  const int light_user = r.users.insert("light");
  groups["light"] = "A";
  r.push(light_user, 0, static_cast<float>(3.0 + 3.0 + item_bias[0]));  // one view, 2 above group A

  ModelConfig mc;
  mc.rank = 2;
  auto backend = make_cpu_backend(2);
  TrainInputs in;
  in.train = &r;
  in.user_groups = &groups;
  const Model m = train(in, mc, testing::quiet_training(60, 1024), *backend);
  // Predictions at item 0 for: the light user, the heavy user, and new members of groups A and B.
  Ratings pairs;
  for (const char* id : {"light", "heavy", "new-in-A", "new-in-B"})
    pairs.push(pairs.users.insert(id), 0, 0.f);
  pairs.items.insert("i0");
  GroupFile now{{"new-in-A", "A"}, {"new-in-B", "B"}};
  backend->load_model(m);
  const Predictions p = predict_table(*backend, m, pairs, &now, nullptr);
  const double light = p.mean[0], heavy = p.mean[1], group_a = p.mean[2], group_b = p.mean[3];
  const double light_observed = 6.0 + item_bias[0], heavy_truth = 5.5 + item_bias[0];
  EXPECT_NEAR(group_a - group_b, 2.0, 0.3) << "the groups' priors carry their different engagement";
  EXPECT_LT(std::fabs(light - group_a), 0.5 * std::fabs(light_observed - group_a))
      << "one observation: pulled at least halfway to its group";
  EXPECT_NEAR(heavy, heavy_truth, 0.3) << "70 observations: follows its data";
  EXPECT_GT(std::fabs(heavy - group_a), 1.0);
  EXPECT_GT(p.var[0], p.var[1]) << "the light user is less certain";
}

TEST(Training, SameSeedSameModelWhateverTheThreadCount) {
  const Ratings all = testing::planted_ratings(60, 40, 2, 10, 0.3, 4);
  ModelConfig mc;
  mc.rank = 5;
  TrainInputs in;
  in.train = &all;
  auto one = make_cpu_backend(1), two = make_cpu_backend(2);
  const Model a = train(in, mc, testing::quiet_training(5, 1024), *one);
  const Model b = train(in, mc, testing::quiet_training(5, 1024), *two);
  const Model c = train(in, mc, testing::quiet_training(5, 1024), *two);
  EXPECT_EQ(a.U.mean, b.U.mean);
  EXPECT_EQ(a.V.logsd, b.V.logsd);
  EXPECT_EQ(b.U.bias_mean, c.U.bias_mean);
  EXPECT_EQ(a.sigma2, c.sigma2);
  TrainConfig other = testing::quiet_training(5, 1024);
  other.seed = 2;
  const Model d = train(in, mc, other, *two);
  EXPECT_NE(a.U.mean, d.U.mean);
}

TEST(Training, UnseenIdsArePredictedFromTheirPrior) {
  const Ratings all = testing::planted_ratings(50, 30, 2, 8, 0.3, 6);
  GroupFile ug;
  for (size_t i = 0; i < all.users.size(); ++i)
    ug[std::string(all.users.name(static_cast<int32_t>(i)))] = i % 2 ? "odd" : "even";
  ModelConfig mc;
  mc.rank = 2;
  auto backend = make_cpu_backend(2);
  TrainInputs in;
  in.train = &all;
  in.user_groups = &ug;
  const Model m = train(in, mc, testing::quiet_training(10, 1024), *backend);
  backend->load_model(m);

  Ratings pairs;
  pairs.users.insert("newcomer");
  pairs.users.insert("stranger");
  pairs.users.insert(std::string(all.users.name(0)));
  pairs.items.insert(std::string(all.items.name(3)));
  pairs.items.insert("new-item");
  pairs.push(0, 0, 0);  // newcomer in group odd, known item
  pairs.push(1, 0, 0);  // no group known: population
  pairs.push(2, 1, 0);  // known user, unknown item (single item group = population)
  GroupFile now{{"newcomer", "odd"}};
  const Predictions p = predict_table(*backend, m, pairs, &now, nullptr);
  EXPECT_EQ(p.source[0], Source::kGroup);
  EXPECT_EQ(p.source[1], Source::kPopulation);
  EXPECT_EQ(p.source[2], Source::kPopulation);
  const int g = m.user_groups.find("odd");
  const int j = m.items.find(all.items.name(3));
  double mean = m.mu0 + m.user_prior.bias_mean[g] + m.V.bias_mean[j];
  double var = m.sigma2 + 1.0 / m.user_prior.bias_prec[g] + std::exp(2.0 * m.V.bias_logsd[j]);
  for (int k = 0; k < 2; ++k) {
    const double M = m.user_prior.mean[g * 2 + k], s2 = 1.0 / m.user_prior.prec[g * 2 + k];
    const double n = m.V.mean[j * m.V.stride + k],
                 t2 = std::exp(2.0 * m.V.logsd[j * m.V.stride + k]);
    mean += M * n;
    var += M * M * t2 + n * n * s2 + s2 * t2;
  }
  EXPECT_NEAR(p.mean[0], mean, 1e-4);
  EXPECT_NEAR(p.var[0], var, 1e-4);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_TRUE(std::isfinite(p.mean[k]));
    EXPECT_GT(p.var[k], m.sigma2);
  }
}

TEST(Training, RejectsBadSettings) {
  const Ratings all = testing::planted_ratings(5, 5, 2, 2, 0.3, 6);
  auto backend = make_cpu_backend(1);
  TrainInputs in;
  in.train = &all;
  ModelConfig mc;
  mc.transform = Transform::kLog1p;
  Ratings negative = all;
  negative.value[0] = -3.0f;
  in.train = &negative;
  EXPECT_THROW(train(in, mc, testing::quiet_training(1, 1024), *backend), Error);
  mc.transform = Transform::kNone;
  mc.rank = -1;
  in.train = &all;
  EXPECT_THROW(train(in, mc, testing::quiet_training(1, 1024), *backend), Error);
}

TEST(Training, RankZeroIsABiasesOnlyModel) {
  const Ratings all = testing::planted_ratings(40, 30, 2, 10, 0.3, 9);
  ModelConfig mc;
  mc.rank = 0;
  auto backend = make_cpu_backend(2);
  TrainInputs in;
  in.train = &all;
  const Model m = train(in, mc, testing::quiet_training(20, 1024), *backend);
  EXPECT_EQ(m.U.stride, 0);
  EXPECT_TRUE(std::isfinite(m.history.back().elbo_per_entry));
  EXPECT_LT(m.history.back().train_rmse, m.history.front().train_rmse);
}

}  // namespace
}  // namespace ppmf
