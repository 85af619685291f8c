// Checkpoints: a run interrupted after any epoch and resumed ends with the model of the run that
// was never interrupted, bit for bit (CPU backend); checkpoints of another run, and damaged ones,
// are refused with the reason.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "ppmf/cancel.hpp"
#include "ppmf/checkpoint.hpp"
#include "cpu_backend.hpp"
#include "ppmf/model_file.hpp"
#include "ppmf/scheduler.hpp"
#include "test_util.hpp"

namespace ppmf {
namespace {

using ::testing::HasSubstr;

struct Problem {
  Ratings all = testing::planted_ratings(120, 45, 2, 9, 0.4, 21);
  Ratings test = testing::planted_ratings(30, 45, 2, 4, 0.4, 22);
  ModelConfig mc;
  Problem() { mc.rank = 3; }
  TrainInputs inputs() const {
    TrainInputs in;
    in.train = &all;
    in.test = &test;
    return in;
  }
};

// 9 epochs at most, the default validation split and refit, patience 3: phase 0 may stop early
// and the refit runs the chosen number of epochs.
TrainConfig run_config(const std::string& checkpoint, int every) {
  TrainConfig tc = testing::epochs_config(9);
  tc.patience = 3;
  tc.checkpoint = checkpoint;
  tc.checkpoint_every = every;
  return tc;
}

// Trains until `stop_after` epochs have completed, then cancels during the next one.
void train_until(const Problem& p, const TrainConfig& tc, int stop_after) {
  auto backend = make_cpu_backend(2);
  int epochs = 0;
  TrainCallbacks cb;
  cb.on_epoch = [&](const EpochMetrics&) { ++epochs; };
  cb.cancelled = [&] { return epochs >= stop_after; };
  EXPECT_THROW(train(p.inputs(), p.mc, tc, *backend, cb), Cancelled);
  EXPECT_EQ(epochs, stop_after);
}

TrainResult resume(const Problem& p, const TrainConfig& tc, const std::string& from) {
  auto backend = make_cpu_backend(1);  // another thread count: the results do not depend on it
  TrainInputs in = p.inputs();
  in.resume_from = from;
  return train(in, p.mc, tc, *backend);
}

class ResumeAfter : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(ResumeAfter, EndsWithTheUninterruptedModelBitForBit) {
  const auto [stop_after, every] = GetParam();
  const Problem p;
  auto backend = make_cpu_backend(2);
  const TrainResult whole = train(p.inputs(), p.mc, run_config("", 1), *backend);
  const int epochs = static_cast<int>(whole.model.history.size());
  ASSERT_TRUE(whole.report.refit);
  ASSERT_LT(stop_after, epochs) << "the interruption must come before the end";

  const std::string path = testing::temp_path("run.ckpt");
  const TrainConfig tc = run_config(path, every);
  train_until(p, tc, stop_after);
  const Checkpoint c = load_checkpoint(path);
  EXPECT_EQ(c.model.history.size(), static_cast<size_t>(stop_after / every * every));

  const TrainResult resumed = resume(p, tc, path);
  testing::expect_same_model(whole.model, resumed.model, testing::Timings::kIgnored);
  EXPECT_EQ(resumed.report.chosen_epoch, whole.report.chosen_epoch);
  EXPECT_EQ(resumed.report.stopped_early, whole.report.stopped_early);
  EXPECT_EQ(resumed.report.epochs_run, whole.report.epochs_run);
  // The finished run's checkpoint resumes to the same model again, with no epoch more.
  testing::expect_same_model(whole.model, resume(p, tc, path).model, testing::Timings::kIgnored);
}

// (stop after epoch, checkpoint every): the first epoch, mid phase 0, the last epoch of phase 0
// (the refit has not started), mid refit, and a checkpoint two epochs older than the interruption.
// The whole run has 9 + 9 epochs at most and at least 6 (tested above).
INSTANTIATE_TEST_SUITE_P(Checkpoints, ResumeAfter,
                         ::testing::Values(std::pair{1, 1}, std::pair{3, 1}, std::pair{5, 1},
                                           std::pair{5, 3}));

// The end of phase 0 and the middle of the refit, wherever the early stop puts them.
TEST(Checkpoints, ResumeAcrossThePhasesBitForBit) {
  const Problem p;
  auto backend = make_cpu_backend(2);
  const TrainResult whole = train(p.inputs(), p.mc, run_config("", 1), *backend);
  const int phase0 = static_cast<int>(whole.model.history.size()) - whole.report.chosen_epoch;
  ASSERT_GE(whole.report.chosen_epoch, 2);
  const std::string path = testing::temp_path("run.ckpt");
  const TrainConfig tc = run_config(path, 1);
  for (const int stop_after : {phase0, phase0 + 1}) {
    SCOPED_TRACE("stopped after epoch " + std::to_string(stop_after));
    train_until(p, tc, stop_after);
    testing::expect_same_model(whole.model, resume(p, tc, path).model,
                               testing::Timings::kIgnored);
  }
}

TEST(Checkpoints, AnotherRunIsRefusedWithTheReason) {
  const Problem p;
  const std::string path = testing::temp_path("run.ckpt");
  const TrainConfig tc = run_config(path, 1);
  train_until(p, tc, 2);
  const auto refusal = [&](const ModelConfig& mc, const TrainConfig& other, const Ratings& data) {
    auto backend = make_cpu_backend(1);
    TrainInputs in;
    in.train = &data;
    in.resume_from = path;
    try {
      train(in, mc, other, *backend);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(resumed)");
  };
  TrainConfig seed = tc;
  seed.seed = 7;
  EXPECT_EQ(refusal(p.mc, seed, p.all),
            path + ": cannot resume this run: the checkpoint's seed is 1, this run's 7");
  ModelConfig rank = p.mc;
  rank.rank = 4;
  EXPECT_THAT(refusal(rank, tc, p.all), HasSubstr("the checkpoint's rank is 3, this run's 4"));
  TrainConfig epochs = tc;
  epochs.epochs = 20;
  EXPECT_THAT(refusal(p.mc, epochs, p.all), HasSubstr("the checkpoint's epochs is 9"));
  Ratings changed = p.all;
  changed.value[17] += 1;
  EXPECT_THAT(refusal(p.mc, tc, changed), HasSubstr("it was made from other data"));
  // How often checkpoints are written, and where, may change.
  TrainConfig elsewhere = tc;
  elsewhere.checkpoint = testing::temp_path("other.ckpt");
  elsewhere.checkpoint_every = 4;
  EXPECT_EQ(refusal(p.mc, elsewhere, p.all), "(resumed)");
}

TEST(Checkpoints, DamagedOrForeignFilesAreRefused) {
  const Problem p;
  const std::string path = testing::temp_path("run.ckpt");
  train_until(p, run_config(path, 1), 1);
  std::string bytes = testing::read_text(path);
  const auto load_error = [&](const std::string& content) {
    const std::string damaged = testing::temp_path("damaged.ckpt");
    testing::write_file(damaged, content);
    try {
      load_checkpoint(damaged);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(loaded)");
  };
  EXPECT_EQ(load_error(bytes), "(loaded)");
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x10;
  EXPECT_THAT(load_error(flipped), HasSubstr("corrupt checkpoint (checksum mismatch)"));
  EXPECT_THAT(load_error(bytes.substr(0, bytes.size() - 5)), HasSubstr("truncated checkpoint"));
  Model m = load_checkpoint(path).model;
  const std::string model_path = testing::temp_path("model.ppmf");
  save_model(m, model_path);
  EXPECT_THAT(load_error(testing::read_text(model_path)),
              HasSubstr("not a ppmf checkpoint (bad magic)"));
  EXPECT_THAT(load_error(""), HasSubstr("truncated checkpoint (expected at least 24 bytes"));
  try {
    load_checkpoint(testing::temp_path("absent.ckpt"));
    FAIL() << "loaded a missing file";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("absent.ckpt"));
  }
}

// The process-wide request (the CLI's signal handlers) stops training too, and says what was kept.
TEST(Checkpoints, CancelRequestSaysWhatWasKept) {
  const Problem p;
  const std::string path = testing::temp_path("run.ckpt");
  auto backend = make_cpu_backend(1);
  TrainCallbacks cb;
  int epochs = 0;
  cb.on_epoch = [&](const EpochMetrics&) {
    if (++epochs == 2) request_cancel(15);
  };
  try {
    train(p.inputs(), p.mc, run_config(path, 1), *backend, cb);
    FAIL() << "not cancelled";
  } catch (const Cancelled& e) {
    EXPECT_EQ(std::string(e.what()),
              "training interrupted during epoch 3; the checkpoint " + path + " holds epoch 2");
  }
  EXPECT_EQ(cancel_signal(), 15);
  clear_cancel();
  EXPECT_FALSE(cancel_requested());
  cb.on_epoch = [&](const EpochMetrics&) { request_cancel(2); };
  try {
    train(p.inputs(), p.mc, run_config("", 1), *backend, cb);
    FAIL() << "not cancelled";
  } catch (const Cancelled& e) {
    EXPECT_EQ(std::string(e.what()),
              "training interrupted during epoch 2; no checkpoint was written");
  }
  clear_cancel();
}

}  // namespace
}  // namespace ppmf
