// Training end to end through the scheduler on the CPU backend: recovery of a planted model and of
// the priors of light users, shrinkage of light users to their group, determinism, the validation
// split, and priors for unseen ids.
#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "cpu_backend.hpp"
#include "cpus.hpp"
#include "ppmf/groups.hpp"
#include "ppmf/predict.hpp"
#include "ppmf/scheduler.hpp"
#include "ppmf/split.hpp"
#include "test_util.hpp"

namespace ppmf {
namespace {

// The validation split is a function of the ids and the seed: reversing the file keeps the same
// entries aside, a new seed others, and about `frac` of them.
TEST(Splits, HashSplitIsTheSameWhateverTheFileOrder) {
  const Ratings all = testing::planted_ratings(300, 80, 2, 20, 0.3, 5);
  std::vector<size_t> reversed(all.size());
  for (size_t k = 0; k < all.size(); ++k) reversed[k] = all.size() - 1 - k;
  const Ratings backwards = compact(subset(all, reversed));
  auto held = [](const Split& s) {
    std::set<std::pair<std::string, std::string>> out;
    for (size_t e = 0; e < s.test.size(); ++e)
      out.emplace(s.test.users.name(s.test.user[e]), s.test.items.name(s.test.item[e]));
    return out;
  };
  const auto a = held(split_by_hash(all, 0.1, 7)), b = held(split_by_hash(backwards, 0.1, 7));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, held(split_by_hash(all, 0.1, 8)));
  EXPECT_NEAR(static_cast<double>(a.size()) / all.size(), 0.1, 0.02);
  EXPECT_EQ(split_by_hash(all, 0.1, 7).train.size() + a.size(), all.size());
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
  const Model m = train(in, mc, testing::epochs_config(80), *backend).model;
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
  const Model m = train(in, mc, testing::epochs_config(60), *backend).model;
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
  const Model a = train(in, mc, testing::epochs_config(5), *one).model;
  const Model b = train(in, mc, testing::epochs_config(5), *two).model;
  const Model c = train(in, mc, testing::epochs_config(5), *two).model;
  EXPECT_EQ(a.U.mean, b.U.mean);
  EXPECT_EQ(a.V.logsd, b.V.logsd);
  EXPECT_EQ(b.U.bias_mean, c.U.bias_mean);
  EXPECT_EQ(a.sigma2, c.sigma2);
  TrainConfig other = testing::epochs_config(5);
  other.seed = 2;
  const Model d = train(in, mc, other, *two).model;
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
  const Model m = train(in, mc, testing::epochs_config(10), *backend).model;
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
  const Predictions p = predict_table(*backend, m, pairs, &now, nullptr, /*plain=*/true);
  EXPECT_EQ(p.source[0], Source::kGroup);
  EXPECT_EQ(p.source[1], Source::kPopulation);
  EXPECT_EQ(p.source[2], Source::kPopulation);
  // The group prior's predictive moments with its full covariance over [u; alpha]:
  // mean mu0 + M . [v; 1] + beta, variance [v; 1]^T C [v; 1] + sum_k t_k (C_kk + M_k^2) + q^2.
  const int g = m.user_groups.find("odd");
  const int j = m.items.find(all.items.name(3));
  const float* M = m.user_prior.mean_of(g);
  const float* C = m.user_prior.cov_of(g);
  std::vector<double> y(3), t(2);
  for (int k = 0; k < 2; ++k) {
    y[k] = m.V.mean[j * m.V.stride + k];
    t[k] = std::exp(2.0 * m.V.logsd[j * m.V.stride + k]);
  }
  y[2] = 1;
  double mean = m.mu0 + m.V.bias_mean[j], var = m.sigma2 + std::exp(2.0 * m.V.bias_logsd[j]);
  for (int a = 0; a < 3; ++a) {
    mean += M[a] * y[a];
    for (int b = 0; b < 3; ++b) var += y[a] * C[a * 3 + b] * y[b];
  }
  for (int k = 0; k < 2; ++k) var += t[k] * (C[k * 3 + k] + M[k] * M[k]);
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
  EXPECT_THROW(train(in, mc, testing::epochs_config(1), *backend), Error);
  mc.transform = Transform::kNone;
  mc.rank = -1;
  in.train = &all;
  try {
    train(in, mc, testing::epochs_config(1), *backend);
    FAIL() << "rank -1 accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "rank");
  }
}

// Each setting out of range is a ConfigError naming that setting (front ends turn the name into
// their own option: --prec-a0, prec_a0=); NaN never passes.
TEST(Config, ValidateNamesTheField) {
  const auto field_of = [](const auto& config) -> std::string {
    try {
      validate(config);
    } catch (const ConfigError& e) {
      return e.field();
    }
    return "(accepted)";
  };
  EXPECT_EQ(field_of(ModelConfig{}), "(accepted)");
  EXPECT_EQ(field_of(TrainConfig{}), "(accepted)");
  const auto model_with = [](auto set) {
    ModelConfig c;
    set(c);
    return c;
  };
  const auto train_with = [](auto set) {
    TrainConfig c;
    set(c);
    return c;
  };
  EXPECT_EQ(field_of(model_with([](ModelConfig& c) { c.rank = kMaxRank + 1; })), "rank");
  EXPECT_EQ(field_of(model_with([](ModelConfig& c) { c.tau = 0; })), "tau");
  EXPECT_EQ(field_of(model_with([](ModelConfig& c) { c.prec_a0 = 0.5f; })), "prec_a0");
  EXPECT_EQ(field_of(model_with([](ModelConfig& c) { c.prec_b0 = NAN; })), "prec_b0");
  EXPECT_EQ(field_of(model_with([](ModelConfig& c) { c.noise_a = -1; })), "noise_a");
  EXPECT_EQ(field_of(model_with([](ModelConfig& c) { c.init_sd = INFINITY; })), "init_sd");
  EXPECT_EQ(field_of(train_with([](TrainConfig& c) { c.epochs = 0; })), "epochs");
  EXPECT_EQ(field_of(train_with([](TrainConfig& c) { c.patience = -1; })), "patience");
  EXPECT_EQ(field_of(train_with([](TrainConfig& c) { c.min_improvement = NAN; })),
            "min_improvement");
  EXPECT_EQ(field_of(train_with([](TrainConfig& c) { c.valid_frac = 0.95; })), "valid_frac");
  EXPECT_EQ(field_of(train_with([](TrainConfig& c) { c.pool_iters = 0; })), "pool_iters");
  try {
    parse_transform("log");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "transform");
    EXPECT_STREQ(e.what(), "transform: unknown transform 'log' (expected none|log1p)");
  }
}

TEST(Training, RankZeroIsABiasesOnlyModel) {
  const Ratings all = testing::planted_ratings(40, 30, 2, 10, 0.3, 9);
  ModelConfig mc;
  mc.rank = 0;
  auto backend = make_cpu_backend(2);
  TrainInputs in;
  in.train = &all;
  TrainConfig tc = testing::epochs_config(20);
  tc.valid_frac = 0;
  const Model m = train(in, mc, tc, *backend).model;
  EXPECT_EQ(m.U.stride, 0);
  EXPECT_EQ(m.user_prior.dim(), 1);
  EXPECT_GT(m.history.back().elbo_per_entry, m.history.front().elbo_per_entry);
  // The biases explain much of the spread around the global mean.
  double spread = 0;
  for (const float v : all.value) spread += (v - m.mu0) * (v - m.mu0);
  EXPECT_LT(m.history.back().train_rmse, 0.9 * std::sqrt(spread / all.size()));
}

// Generated data where most users have 1-3 entries (as on real services), with known bias-prior
// sds and noise. The factor scales are not identifiable, the biases and the noise are: after
// default training the learned values are within 10% of the truth. A prior fitted to users whose
// posteriors have not converged comes out several times too tight.
TEST(Training, LearnsTheBiasPriorsAndNoiseOfLightUsers) {
  const double user_sd = 0.8, item_sd = 0.6, noise = 1.0;
  Rng rng(17);
  Ratings r;
  const int users = 6000, items = 400;
  std::vector<double> item_bias(items), u(users * 2), v(items * 2);
  for (auto& b : item_bias) b = item_sd * rng.normal();
  for (auto& x : u) x = 0.5 * rng.normal();
  for (auto& x : v) x = 0.5 * rng.normal();
  for (int j = 0; j < items; ++j) r.items.insert("i" + std::to_string(j));
  for (int i = 0; i < users; ++i) {
    const int32_t ui = r.users.insert("u" + std::to_string(i));
    const double bias = user_sd * rng.normal();
    // 70% of users have 1-3 entries, the rest 5-40.
    const int n = rng.uniform() < 0.7 ? 1 + static_cast<int>(rng.below(3))
                                       : 5 + static_cast<int>(rng.below(36));
    std::vector<int> seen;
    while (static_cast<int>(seen.size()) < n) {
      const int j = static_cast<int>(rng.below(items));
      if (std::find(seen.begin(), seen.end(), j) != seen.end()) continue;
      seen.push_back(j);
      const double f = 3.0 + bias + item_bias[j] + u[i * 2] * v[j * 2] + u[i * 2 + 1] * v[j * 2 + 1];
      r.push(ui, j, static_cast<float>(f + noise * rng.normal()));
    }
  }
  for (const int rank : {0, 2}) {
    ModelConfig mc;
    mc.rank = rank;
    TrainInputs in;
    in.train = &r;
    auto backend = make_cpu_backend(2);
    TrainConfig tc;
    const Model m = train(in, mc, tc, *backend).model;
    const int b = rank;  // the bias is the last of the prior's dimensions
    const double learned_user_sd = std::sqrt(m.user_prior.cov_of(0)[b * (rank + 1) + b]);
    const double learned_item_sd = std::sqrt(m.item_prior.cov_of(0)[b * (rank + 1) + b]);
    EXPECT_NEAR(learned_user_sd, user_sd, 0.1 * user_sd) << "rank " << rank;
    EXPECT_NEAR(learned_item_sd, item_sd, 0.1 * item_sd) << "rank " << rank;
    if (rank > 0) {
      EXPECT_NEAR(std::sqrt(m.sigma2), noise, 0.1 * noise);
    }
  }
}

// --test is reported, never used: the model is the same bit for bit with or without it, even when
// the held-out values are nonsense.
TEST(Training, HeldOutTestEntriesDoNotChangeTheModel) {
  const Ratings all = testing::planted_ratings(80, 40, 2, 12, 0.3, 3);
  Ratings nonsense = testing::planted_ratings(80, 40, 2, 3, 0.3, 4);
  for (auto& x : nonsense.value) x = 100.f * x;
  ModelConfig mc;
  mc.rank = 2;
  auto backend = make_cpu_backend(2);
  TrainInputs in;
  in.train = &all;
  const Model a = train(in, mc, testing::epochs_config(30), *backend).model;
  in.test = &nonsense;
  const Model b = train(in, mc, testing::epochs_config(30), *backend).model;
  EXPECT_EQ(a.U.mean, b.U.mean);
  EXPECT_EQ(a.V.logsd, b.V.logsd);
  EXPECT_EQ(a.sigma2, b.sigma2);
  EXPECT_EQ(a.history.size(), b.history.size());
  EXPECT_TRUE(b.history.back().has_test);
  EXPECT_GT(b.history.back().test_rmse, 10.0);
}

// The validation split chooses the number of epochs; the refit then trains on every entry.
TEST(Training, ValidationChoosesTheEpochsAndTheRefitSeesEverything) {
  const Ratings all = testing::planted_ratings(150, 60, 2, 15, 0.3, 8);
  ModelConfig mc;
  mc.rank = 2;
  auto backend = make_cpu_backend(2);
  TrainInputs in;
  in.train = &all;
  TrainConfig tc = testing::epochs_config(25);
  tc.patience = 3;
  const Model m = train(in, mc, tc, *backend).model;
  EXPECT_EQ(m.n_train, all.size()) << "the refit trains on the validation entries too";
  int chosen = 0, validated = 0;
  double best = INFINITY;
  for (const EpochMetrics& e : m.history) {
    if (!e.has_valid) continue;
    ++validated;
    if (e.valid_nll < best) {
      best = e.valid_nll;
      chosen = e.epoch;
    }
  }
  ASSERT_GT(chosen, 0);
  EXPECT_EQ(static_cast<int>(m.history.size()), validated + chosen) << "refit for the chosen epochs";
  EXPECT_EQ(m.best_epoch, static_cast<int>(m.history.size()));
  tc.refit = false;
  const Model kept = train(in, mc, tc, *backend).model;
  EXPECT_EQ(kept.best_epoch, chosen);
  EXPECT_LT(kept.n_train, all.size());
  tc.valid_frac = 0;
  const Model none = train(in, mc, tc, *backend).model;
  EXPECT_EQ(none.history.size(), 25u);
  EXPECT_FALSE(none.history.back().has_valid);
}

// The library prints nothing; callers follow training through the callbacks, and the report says
// what the run decided.
TEST(Training, CallbacksAndReportFollowTheRun) {
  const Ratings all = testing::planted_ratings(150, 60, 2, 15, 0.3, 8);
  ModelConfig mc;
  mc.rank = 2;
  auto backend = make_cpu_backend(2);
  TrainInputs in;
  in.train = &all;
  TrainConfig tc = testing::epochs_config(25);
  tc.patience = 3;
  std::vector<int> epochs;
  std::vector<std::string> notes;
  size_t progress_calls = 0;
  TrainCallbacks cb;
  cb.on_epoch = [&](const EpochMetrics& e) { epochs.push_back(e.epoch); };
  cb.on_note = [&](const std::string& n) { notes.push_back(n); };
  cb.on_progress = [&](int epoch, size_t done, size_t total) {
    ++progress_calls;
    EXPECT_EQ(epoch, static_cast<int>(epochs.size()) + 1);
    EXPECT_LE(done, total);
    EXPECT_LE(total, 150u + 60u) << "the user and item rows of the compacted table";
  };
  const TrainResult r = train(in, mc, tc, *backend, cb);
  const TrainReport& rep = r.report;
  ASSERT_EQ(epochs.size(), r.model.history.size());
  for (size_t k = 0; k < epochs.size(); ++k) EXPECT_EQ(epochs[k], static_cast<int>(k) + 1);
  EXPECT_GE(progress_calls, 2 * epochs.size()) << "one call per side at least";
  EXPECT_EQ(rep.epochs_run, static_cast<int>(epochs.size()));
  EXPECT_TRUE(rep.refit);
  EXPECT_TRUE(rep.stopped_early) << "25 epochs are more than this problem needs";
  const auto validated = std::count_if(r.model.history.begin(), r.model.history.end(),
                                       [](const EpochMetrics& e) { return e.has_valid; });
  EXPECT_EQ(rep.epochs_run, validated + rep.chosen_epoch) << "the refit runs the chosen epochs";
  EXPECT_EQ(rep.chosen.epoch, rep.chosen_epoch);
  EXPECT_TRUE(rep.chosen.has_valid);
  EXPECT_EQ(rep.kept.epoch, r.model.best_epoch);
  EXPECT_EQ(rep.train_entries, all.size());
  EXPECT_GT(rep.valid_entries, 0u);
  EXPECT_EQ(rep.device, backend->name());
  ASSERT_EQ(notes.size(), 4u);
  EXPECT_EQ(notes[0].rfind("early stop:", 0), 0u) << notes[0];
  EXPECT_EQ(notes[1].rfind("refit: " + std::to_string(rep.chosen_epoch) + " epochs", 0), 0u)
      << notes[1];
  EXPECT_EQ(notes[2].rfind("watch model: weights chosen on ", 0), 0u) << notes[2];
  EXPECT_EQ(notes[3].rfind("watch model: rank 2, 10 sweeps, alpha ", 0), 0u) << notes[3];
  EXPECT_EQ(rep.watch_device, backend->name());
}

// A cancel request stops training between row ranges with Cancelled; the backend stays usable.
TEST(Training, CancelStopsWithCancelled) {
  const Ratings all = testing::planted_ratings(150, 60, 2, 15, 0.3, 8);
  ModelConfig mc;
  mc.rank = 2;
  auto backend = make_cpu_backend(2);
  TrainInputs in;
  in.train = &all;
  TrainCallbacks cb;
  int polls = 0, epochs = 0;
  cb.cancelled = [&] { return ++polls > 5; };
  cb.on_epoch = [&](const EpochMetrics&) { ++epochs; };
  EXPECT_THROW(train(in, mc, testing::epochs_config(25), *backend, cb), Cancelled);
  EXPECT_EQ(polls, 6);
  EXPECT_LE(epochs, 3);
  TrainConfig three = testing::epochs_config(3);
  three.valid_frac = 0;
  const Model m = train(in, mc, three, *backend).model;
  EXPECT_EQ(m.history.size(), 3u);
}

// threads = 0 means the CPUs this process may use, not every CPU of the machine: a job bound to
// one core (taskset, a batch scheduler) or limited by a container quota trains on that many.
TEST(Threads, DefaultIsTheCpusThisProcessMayUse) {
  cpu_set_t saved, one;
  ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  const int bound = usable_cpus();
  const std::string name = make_cpu_backend(0)->name();
  ASSERT_EQ(sched_setaffinity(0, sizeof saved, &saved), 0);
  EXPECT_EQ(bound, 1);
  EXPECT_EQ(name, "cpu (1 threads)");
  EXPECT_GE(usable_cpus(), 1);
  EXPECT_LE(usable_cpus(), CPU_COUNT(&saved));

  EXPECT_EQ(cpus_of_quota("max", "100000"), 0);
  EXPECT_EQ(cpus_of_quota("-1", "100000"), 0);
  EXPECT_EQ(cpus_of_quota("", ""), 0);
  EXPECT_EQ(cpus_of_quota("150000", "100000"), 2);
  EXPECT_EQ(cpus_of_quota("200000", "100000"), 2);
  EXPECT_EQ(cpus_of_quota("50000", "100000"), 1);
  EXPECT_EQ(cpus_of_quota("garbage", "100000"), 0);
}

}  // namespace
}  // namespace ppmf
