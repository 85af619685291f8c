// Distributed training on the thread transport: one rank is the single-process model bit for bit,
// two and three ranks reach its accuracy with the same hyperparameters on every rank, runs repeat
// exactly, files are read once and entries reach their users' owners, and a bad file on one rank
// stops every rank with that rank's reason.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "cpu_backend.hpp"
#include "ppmf/checkpoint.hpp"
#include "ppmf/distributed.hpp"
#include "ppmf/scheduler.hpp"
#include "ppmf/split.hpp"
#include "ppmf/synth.hpp"
#include "test_util.hpp"
#include "thread_comm.hpp"

namespace ppmf {
namespace {

using testing::run_ranks;

void rethrow_first(const std::vector<std::exception_ptr>& errors) {
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

struct Problem {
  SynthData data;
  Split split;
  ModelConfig mc;
  TrainConfig tc;
};

const Problem& problem() {
  static const Problem made = [] {
    Problem p;
    SynthConfig sc;
    sc.users = 1500;
    sc.items = 300;
    sc.seed = 4;
    p.data = generate_synth(sc);
    p.split = split_by_hash(p.data.ratings, 0.1, 99);
    p.mc.rank = 6;
    p.mc.transform = Transform::kLog1p;
    p.tc = testing::epochs_config(20);  // past the init's influence (ranks order items apart)
    p.tc.watch.epochs = 2;
    return p;
  }();
  return made;
}

// Trains on `ranks` ranks (resuming from `resume` when given, from `warm` when given); rank
// `cancel_rank` cancels itself once `cancel_after` epochs are done. Returns each rank's result and
// exception.
struct Outcome {
  std::vector<TrainResult> results;
  std::vector<std::exception_ptr> errors;
};
Outcome run_on_ranks(int ranks, const TrainConfig& tc, const std::string& resume = "",
                     int cancel_rank = -1, int cancel_after = 0, const Model* warm = nullptr) {
  const Problem& p = problem();
  Outcome o;
  o.results.resize(ranks);
  o.errors = run_ranks(ranks, [&](Comm& comm) {
    const Ratings mine = owned_entries(p.split.train, comm);
    const Ratings test = owned_entries(p.split.test, comm);
    auto backend = make_cpu_backend(1);
    TrainInputs in;
    in.train = &mine;
    in.test = &test;
    in.user_groups = &p.data.user_groups;
    in.item_groups = &p.data.item_groups;
    in.resume_from = resume;
    in.warm_start = warm;
    in.comm = &comm;
    int epochs = 0;
    TrainCallbacks cb;
    cb.on_epoch = [&](const EpochMetrics&) { ++epochs; };
    if (comm.rank() == cancel_rank) cb.cancelled = [&] { return epochs >= cancel_after; };
    o.results[comm.rank()] = train(in, p.mc, tc, *backend, cb);
  });
  return o;
}

std::vector<TrainResult> train_on_ranks(int ranks) {
  Outcome o = run_on_ranks(ranks, problem().tc);
  rethrow_first(o.errors);
  return std::move(o.results);
}

TrainResult train_alone(const Model* warm = nullptr) {
  const Problem& p = problem();
  auto backend = make_cpu_backend(1);
  TrainInputs in;
  in.train = &p.split.train;
  in.test = &p.split.test;
  in.user_groups = &p.data.user_groups;
  in.item_groups = &p.data.item_groups;
  in.warm_start = warm;
  return train(in, p.mc, p.tc, *backend);
}

TEST(Distributed, OneRankIsTheSingleProcessModel) {
  const TrainResult alone = train_alone();
  ASSERT_TRUE(alone.model.watch.present);
  const std::vector<TrainResult> one = train_on_ranks(1);
  testing::expect_same_model(alone.model, one[0].model, testing::Timings::kIgnored);
}

TEST(Distributed, TwoAndThreeRanksMatchOneProcessAndAgreeOnTheHyperparameters) {
  const TrainResult alone = train_alone();
  for (const int ranks : {2, 3}) {
    const std::vector<TrainResult> r = train_on_ranks(ranks);
    const Model& m = r[0].model;
    EXPECT_EQ(m.users.size(), alone.model.users.size());
    EXPECT_EQ(m.items.size(), alone.model.items.size());
    EXPECT_EQ(m.n_train, alone.model.n_train);
    EXPECT_EQ(r[0].report.train_entries, alone.report.train_entries);
    EXPECT_EQ(r[0].report.test_entries, alone.report.test_entries);
    EXPECT_NEAR(r[0].report.kept.test_rmse, alone.report.kept.test_rmse, 0.005) << ranks << " ranks";
    EXPECT_TRUE(m.watch.present);
    EXPECT_EQ(m.watch.U.n, m.U.n);
    for (int q = 1; q < ranks; ++q) {
      const Model& o = r[q].model;
      EXPECT_EQ(testing::bits(o.sigma2), testing::bits(m.sigma2));
      EXPECT_EQ(testing::bits(o.user_prior.mean), testing::bits(m.user_prior.mean));
      EXPECT_EQ(testing::bits(o.user_prior.cov), testing::bits(m.user_prior.cov));
      EXPECT_EQ(testing::bits(o.item_prior.cov), testing::bits(m.item_prior.cov));
      EXPECT_EQ(testing::bits(o.V.mean), testing::bits(m.V.mean));
      EXPECT_EQ(o.watch.config.alpha, m.watch.config.alpha);
      EXPECT_EQ(r[q].report.epochs_run, r[0].report.epochs_run);
    }
    // Every user's rows are on rank 0, under its own id.
    for (size_t i = 0; i < m.users.size(); ++i)
      ASSERT_GE(alone.model.users.find(m.users.name(static_cast<int32_t>(i))), 0);
  }
}

// A warm start (value and watch parts, the watch weights kept) on one rank is the single-process
// warm start bit for bit; on two ranks every rank keeps the old weights and the same priors.
TEST(Distributed, WarmStartCarriesBothPartsOnEveryRank) {
  const TrainResult old = train_alone();
  const TrainResult alone = train_alone(&old.model);
  EXPECT_EQ(alone.model.watch.config.alpha, old.model.watch.config.alpha);
  Outcome one = run_on_ranks(1, problem().tc, "", -1, 0, &old.model);
  rethrow_first(one.errors);
  testing::expect_same_model(alone.model, one.results[0].model, testing::Timings::kIgnored);
  Outcome two = run_on_ranks(2, problem().tc, "", -1, 0, &old.model);
  rethrow_first(two.errors);
  for (const TrainResult& r : two.results) {
    EXPECT_EQ(r.model.watch.config.alpha, old.model.watch.config.alpha);
    EXPECT_EQ(r.model.watch.config.zero_weight, old.model.watch.config.zero_weight);
    EXPECT_EQ(testing::bits(r.model.watch.user_prior.cov),
              testing::bits(two.results[0].model.watch.user_prior.cov));
  }
  EXPECT_NEAR(two.results[0].report.kept.test_rmse, alone.report.kept.test_rmse, 0.005);
}

TEST(Distributed, TheSameRanksGiveTheSameModel) {
  const std::vector<TrainResult> a = train_on_ranks(2), b = train_on_ranks(2);
  testing::expect_same_model(a[0].model, b[0].model, testing::Timings::kIgnored);
}

TEST(Distributed, PerRankCheckpointsResumeToTheUninterruptedModel) {
  const std::vector<TrainResult> whole = train_on_ranks(2);
  TrainConfig tc = problem().tc;
  tc.checkpoint = testing::temp_path("run.ckpt");
  // Rank 1 is interrupted during epoch 4: every rank stops, each with its epoch-3 checkpoint.
  const Outcome stopped = run_on_ranks(2, tc, "", 1, 3);
  for (const auto& e : stopped.errors) {
    ASSERT_TRUE(e);
    try {
      std::rethrow_exception(e);
    } catch (const RemoteFailure& f) {
      EXPECT_EQ(f.rank(), 1);
      EXPECT_NE(std::string(f.what()).find("interrupted"), std::string::npos) << f.what();
    }
  }
  for (const char* part : {".rank-0-of-2", ".rank-1-of-2"})
    EXPECT_EQ(load_checkpoint(tc.checkpoint + part).model.history.size(), 3u) << part;
  Outcome resumed = run_on_ranks(2, tc, tc.checkpoint);
  rethrow_first(resumed.errors);
  testing::expect_same_model(whole[0].model, resumed.results[0].model, testing::Timings::kIgnored);
}

// Three parts of uneven sizes; an entry repeated across two files.
std::vector<std::string> write_parts(const Ratings& all, bool corrupt_last) {
  std::vector<std::string> files;
  const size_t cuts[] = {0, all.size() / 2, all.size() * 4 / 5, all.size()};
  for (int f = 0; f < 3; ++f) {
    const std::string path = testing::temp_path("part" + std::to_string(f) + ".csv");
    std::ofstream out(path);
    out << "user,item,minutes\n";
    for (size_t e = cuts[f]; e < cuts[f + 1]; ++e)
      out << all.users.name(all.user[e]) << ',' << all.items.name(all.item[e]) << ','
          << all.value[e] << '\n';
    if (f == 2) {
      out << all.users.name(all.user[0]) << ',' << all.items.name(all.item[0]) << ",1.5\n";
      if (corrupt_last) out << "u1,i2,not-a-number\n";
    }
    files.push_back(path);
  }
  return files;
}

TEST(Distributed, EachFileIsReadOnceAndEntriesReachTheirOwners) {
  const Ratings& all = problem().data.ratings;
  const std::vector<std::string> files = write_parts(all, false);
  ReadOptions opts;
  opts.duplicates = DuplicatePolicy::kSum;
  const Ratings whole = read_tables(files, opts);
  EXPECT_EQ(whole.size(), all.size());  // the repeat merged into its first occurrence
  for (const int ranks : {1, 2, 3}) {
    std::vector<Ratings> parts(ranks), expected_parts(ranks);
    rethrow_first(run_ranks(ranks, [&](Comm& comm) {
      parts[comm.rank()] = read_distributed(comm, files, opts);
      expected_parts[comm.rank()] = owned_entries(whole, comm);
    }));
    size_t total = 0;
    for (int r = 0; r < ranks; ++r) {
      const Ratings& expected = expected_parts[r];
      const Ratings& got = parts[r];
      total += got.size();
      ASSERT_EQ(got.size(), expected.size());
      for (size_t e = 0; e < got.size(); ++e) {
        ASSERT_EQ(got.users.name(got.user[e]), expected.users.name(expected.user[e]));
        ASSERT_EQ(got.items.name(got.item[e]), expected.items.name(expected.item[e]));
        ASSERT_EQ(got.value[e], expected.value[e]);
      }
    }
    EXPECT_EQ(total, whole.size());
  }
  ReadOptions strict;  // duplicates: error, named with both files
  try {
    read_tables(files, strict);
    ADD_FAILURE() << "a repeat across files was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("part0.csv and "), std::string::npos) << e.what();
  }
}

TEST(Distributed, ABadFileStopsEveryRankWithItsReason) {
  const std::vector<std::string> files = write_parts(problem().data.ratings, true);
  ReadOptions opts;
  opts.duplicates = DuplicatePolicy::kSum;
  const auto errors = run_ranks(3, [&](Comm& comm) {
    const Ratings r = read_distributed(comm, files, opts);
    comm.finish();
  });
  for (const auto& e : errors) {
    ASSERT_TRUE(e);
    try {
      std::rethrow_exception(e);
    } catch (const RemoteFailure& f) {
      EXPECT_NE(std::string(f.what()).find("part2.csv"), std::string::npos) << f.what();
      EXPECT_EQ(std::string(f.what()).rfind("rank ", 0), 0u) << f.what();
    }
  }
}

TEST(Distributed, DataPathsExpandListsAndPatterns) {
  const std::vector<std::string> files = write_parts(problem().data.ratings, false);
  const std::string dir = testing::test_dir();
  EXPECT_EQ(expand_data_paths(dir + "/part*.csv"), files);
  EXPECT_EQ(expand_data_paths(files[2] + "," + files[0]),
            (std::vector<std::string>{files[2], files[0]}));
  EXPECT_THROW(expand_data_paths(dir + "/nothing*.csv"), Error);
}

}  // namespace
}  // namespace ppmf
