// The CUDA backend against the CPU reference, method by method, on seeded random models (never
// zeros): gradients of mini-batches with repeated rows, single entries and the full batch (SpMM
// path), Adam steps, the training pass, group moments, predictions and dense scores, and training
// end to end. Plain C++ through the Backend interface: it compiles in every build; the GPU tests
// skip themselves where no GPU is usable (or CUDA is not built), the missing-GPU test runs there.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cpu_backend.hpp"
#include "ppmf/backend.hpp"
#include "ppmf/devices.hpp"
#include "ppmf/scheduler.hpp"
#include "ppmf/split.hpp"
#include "test_util.hpp"

#if PPMF_WITH_CUDA
#include "cuda_backend.hpp"
#endif

namespace ppmf {
namespace {

bool cuda_usable() {
#if PPMF_WITH_CUDA
  return !list_gpus(nullptr).empty();
#else
  return false;
#endif
}

std::unique_ptr<Backend> new_cuda_backend() {
#if PPMF_WITH_CUDA
  return make_cuda_backend(0);
#else
  return nullptr;
#endif
}

// Elementwise |a - b| <= atol + rtol |b| with atol = atol_scale * max |b| (the reference's scale);
// names the first mismatching index. NaN never passes.
::testing::AssertionResult all_close(const std::string& what, const float* a, const float* b,
                                     size_t n, double rtol, double atol_scale) {
  double scale = 0;
  for (size_t k = 0; k < n; ++k) scale = std::max(scale, std::fabs(static_cast<double>(b[k])));
  const double atol = atol_scale * scale;
  size_t bad = 0, first = n;
  for (size_t k = 0; k < n; ++k) {
    const double d = std::fabs(static_cast<double>(a[k]) - b[k]);
    if (!(d <= atol + rtol * std::fabs(static_cast<double>(b[k])))) {
      if (first == n) first = k;
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": " << bad << " of " << n << " differ; first at index " << first << ": cuda "
         << a[first] << " vs cpu " << b[first] << " (rtol " << rtol << ", atol " << atol << ")";
}
::testing::AssertionResult all_close(const std::string& what, const std::vector<float>& a,
                                     const std::vector<float>& b, double rtol, double atol_scale) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << what << ": sizes " << a.size() << " vs " << b.size();
  return all_close(what, a.data(), b.data(), a.size(), rtol, atol_scale);
}
::testing::AssertionResult all_close(const std::string& what, const std::vector<double>& a,
                                     const std::vector<double>& b, double rtol, double atol_scale) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << what << ": sizes " << a.size() << " vs " << b.size();
  double scale = 0;
  for (double x : b) scale = std::max(scale, std::fabs(x));
  for (size_t k = 0; k < a.size(); ++k)
    if (!(std::fabs(a[k] - b[k]) <= atol_scale * scale + rtol * std::fabs(b[k])))
      return ::testing::AssertionFailure() << what << ": first mismatch at index " << k << ": cuda "
                                           << a[k] << " vs cpu " << b[k];
  return ::testing::AssertionSuccess();
}
::testing::AssertionResult near_rel(const std::string& what, double a, double b, double rtol) {
  if (std::fabs(a - b) <= rtol * std::fabs(b)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": cuda " << a << " vs cpu " << b << " (rtol " << rtol << ")";
}

::testing::AssertionResult blocks_close(const std::string& what, const GuideBlock& a,
                                        const GuideBlock& b, double rtol, double atol_scale) {
  if (a.n != b.n || a.rank != b.rank || a.stride != b.stride)
    return ::testing::AssertionFailure() << what << ": shapes differ";
  for (auto r : {all_close(what + " mean", a.mean, b.mean, rtol, atol_scale),
                 all_close(what + " logsd", a.logsd, b.logsd, rtol, atol_scale),
                 all_close(what + " bias mean", a.bias_mean, b.bias_mean, rtol, atol_scale),
                 all_close(what + " bias logsd", a.bias_logsd, b.bias_logsd, rtol, atol_scale)})
    if (!r) return r;
  for (int i = 0; i < a.n; ++i)
    for (int k = a.rank; k < a.stride; ++k)
      if (a.mean[static_cast<size_t>(i) * a.stride + k] != 0.f ||
          a.logsd[static_cast<size_t>(i) * a.stride + k] != 0.f)
        return ::testing::AssertionFailure() << what << ": padding of row " << i << " is not 0";
  return ::testing::AssertionSuccess();
}

// Both backends loaded with the same random model and training entries (identity permutation).
class CudaVsCpu : public ::testing::Test {
 protected:
  void SetUp() override {
#if !PPMF_WITH_CUDA
    GTEST_SKIP() << "built without CUDA";
#else
    if (!cuda_usable()) GTEST_SKIP() << "no usable GPU";
#endif
  }

  // `per_user` entries per user, users in runs of per_user consecutive entries (so a batch that is
  // a range repeats users; with few items, items repeat too); `user_groups` user groups.
  void load(int users, int items, int per_user, int rank, int user_groups, uint64_t seed) {
    train_ = testing::planted_ratings(users, items, 3, per_user, 0.5, seed);
    model_ = testing::random_model(train_, rank, user_groups, seed + 1);
    cpu_ = make_cpu_backend(2);
    gpu_ = new_cuda_backend();
    for (Backend* b : {cpu_.get(), gpu_.get()}) {
      b->load_model(model_);
      b->load_training(train_.user, train_.item, train_.value);
    }
  }
  size_t n() const {
    return train_.size();
  }

  ::testing::AssertionResult gradients_match(size_t begin, size_t end, const std::string& what) {
    const float scale = static_cast<float>(n()) / static_cast<float>(end - begin);
    GuideGradient gc, gg;
    cpu_->gradient(begin, end, scale, gc);
    gpu_->gradient(begin, end, scale, gg);
    const auto u = blocks_close(what + " users", gg.U, gc.U, 1e-4, 1e-5);
    if (!u) return u;
    return blocks_close(what + " items", gg.V, gc.V, 1e-4, 1e-5);
  }

  Ratings train_;
  Model model_;
  std::unique_ptr<Backend> cpu_, gpu_;
};

using StepGradient = CudaVsCpu;
using ShuffledBatches = CudaVsCpu;
using AdamStep = CudaVsCpu;
using TrainPass = CudaVsCpu;
using GroupMoments =
    CudaVsCpu;  // the test suite; the result type is spelled ppmf::GroupMoments below
using Predict = CudaVsCpu;
using ScoreAllItems = CudaVsCpu;
using EntryTiming = CudaVsCpu;

// Ranks: biases only; 7 and 37 (not multiples of 4 or 32: masked padding, 2 and 16 lanes per
// entry); 130 (33 float4 chunks: 32 lanes with 2 chunks each).
const int kRanks[] = {0, 7, 37, 130};

TEST_F(StepGradient, CudaMatchesCpu) {
  for (int rank : kRanks) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    load(60, 25, 12, rank, 3, 100 + rank);
    ASSERT_EQ(n(), 720u);
    EXPECT_TRUE(gradients_match(0, 40, "batch [0,40) (repeated users and items)"));
    EXPECT_TRUE(gradients_match(17, 95, "batch [17,95)"));
    EXPECT_TRUE(gradients_match(5, 6, "single entry"));
    EXPECT_TRUE(gradients_match(0, n(), "full batch (SpMM)"));
    // Timing runs leave the accumulators clean.
    EXPECT_GT(gpu_->time_entry_kernels(100, 300, 3), 0.0);
    EXPECT_GT(gpu_->time_entry_kernels(0, n(), 2), 0.0);
    EXPECT_TRUE(gradients_match(300, 301, "single entry after timing"));
    EXPECT_TRUE(gradients_match(0, 720, "full batch after timing"));
    EXPECT_TRUE(gradients_match(1, 720, "all but one entry (entry kernel)"));
  }
}

// After a device shuffle the batches of a partition sum (at scale 1) to the full-batch gradient:
// the permutation holds every entry exactly once.
TEST_F(ShuffledBatches, CudaMatchesCpu) {
  load(80, 30, 9, 7, 2, 7);
  GuideGradient full;
  cpu_->gradient(0, n(), 1.0f, full);
  gpu_->shuffle(12345);
  GuideGradient sum, part;
  sum.U.resize(model_.U.n, model_.rank());
  sum.V.resize(model_.V.n, model_.rank());
  const std::vector<size_t> bounds = batch_boundaries(n(), 100);
  for (size_t b = 0; b + 1 < bounds.size(); ++b) {
    gpu_->gradient(bounds[b], bounds[b + 1], 1.0f, part);
    for (auto [s, p] : {std::make_pair(&sum.U, &part.U), std::make_pair(&sum.V, &part.V)}) {
      for (size_t k = 0; k < s->mean.size(); ++k) {
        s->mean[k] += p->mean[k];
        s->logsd[k] += p->logsd[k];
      }
      for (size_t k = 0; k < s->bias_mean.size(); ++k) {
        s->bias_mean[k] += p->bias_mean[k];
        s->bias_logsd[k] += p->bias_logsd[k];
      }
    }
  }
  EXPECT_TRUE(blocks_close("partition sum, users", sum.U, full.U, 1e-4, 1e-5));
  EXPECT_TRUE(blocks_close("partition sum, items", sum.V, full.V, 1e-4, 1e-5));
  // A shuffle does not change the full batch; two shuffles with one seed give the same batches.
  EXPECT_TRUE(gradients_match(0, n(), "full batch after shuffle"));
  GuideGradient a, b;
  gpu_->shuffle(99);
  gpu_->gradient(10, 60, 2.0f, a);
  gpu_->shuffle(5);
  gpu_->shuffle(99);
  gpu_->gradient(10, 60, 2.0f, b);
  EXPECT_TRUE(blocks_close("same seed, same batch, users", a.U, b.U, 1e-5, 1e-6));
  EXPECT_TRUE(blocks_close("same seed, same batch, items", a.V, b.V, 1e-5, 1e-6));
  // The CPU draws the same permutation for the seed (permutation.hpp): the same batch, the same
  // gradient.
  GuideGradient c;
  cpu_->shuffle(99);
  cpu_->gradient(10, 60, 2.0f, c);
  EXPECT_TRUE(blocks_close("CPU and GPU, same shuffled batch, users", a.U, c.U, 1e-4, 1e-5));
  EXPECT_TRUE(blocks_close("CPU and GPU, same shuffled batch, items", a.V, c.V, 1e-4, 1e-5));
}

TEST_F(AdamStep, CudaMatchesCpu) {
  for (int rank : {0, 7, 37}) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    load(60, 25, 12, rank, 3, 300 + rank);
    StepParams p;
    p.adam = {0.02f, 0.9f, 0.999f, 1e-8f, 1.f, 1.f};
    // Mini-batches (both touched counters in turn), the full batch (SpMM), a single entry.
    const size_t ranges[][2] = {{0, 40}, {40, 100}, {0, 720}, {5, 6}, {100, 400}, {0, 720}};
    for (const auto& r : ranges) {
      p.scale = static_cast<float>(n()) / static_cast<float>(r[1] - r[0]);
      cpu_->step(r[0], r[1], p);
      gpu_->step(r[0], r[1], p);
      Model mc = model_, mg = model_;
      cpu_->store_guide(mc);
      gpu_->store_guide(mg);
      const std::string what =
          "after step on [" + std::to_string(r[0]) + "," + std::to_string(r[1]) + ")";
      ASSERT_TRUE(blocks_close(what + ", users", mg.U, mc.U, 1e-4, 1e-5));
      ASSERT_TRUE(blocks_close(what + ", items", mg.V, mc.V, 1e-4, 1e-5));
    }
    // The optimizer state and variance caches agree too: the next gradients match.
    EXPECT_TRUE(gradients_match(0, 40, "gradient after the steps"));
    EXPECT_TRUE(gradients_match(0, n(), "full-batch gradient after the steps"));
  }
}

TEST_F(TrainPass, CudaMatchesCpu) {
  for (int rank : kRanks) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    load(70, 40, 10, rank, 2, 500 + rank);
    for (int round = 0; round < 2; ++round) {
      const TrainPassStats c = cpu_->train_pass(), g = gpu_->train_pass();
      EXPECT_EQ(g.n, c.n);
      EXPECT_TRUE(near_rel("sse_expected", g.sse_expected, c.sse_expected, 1e-5));
      EXPECT_TRUE(near_rel("sse_mean", g.sse_mean, c.sse_mean, 1e-5));
      EXPECT_TRUE(near_rel("kl_users", g.kl_users, c.kl_users, 1e-5));
      EXPECT_TRUE(near_rel("kl_items", g.kl_items, c.kl_items, 1e-5));
      // Then again after a step (device-computed variance caches).
      StepParams p;
      p.adam = {0.02f, 0.9f, 0.999f, 1e-8f, 1.f, 1.f};
      p.scale = static_cast<float>(n()) / 200.f;
      cpu_->step(50, 250, p);
      gpu_->step(50, 250, p);
    }
  }
}

TEST_F(GroupMoments, CudaMatchesCpu) {
  for (int rank : {0, 7, 37}) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    load(90, 30, 6, rank, 4, 700 + rank);
    for (Side side : {Side::kUsers, Side::kItems}) {
      const ppmf::GroupMoments c = cpu_->group_moments(side), g = gpu_->group_moments(side);
      ASSERT_EQ(g.n_groups, c.n_groups);
      ASSERT_EQ(g.rank, c.rank);
      EXPECT_EQ(g.count, c.count);
      EXPECT_TRUE(all_close("sum_mean", g.sum_mean, c.sum_mean, 1e-9, 1e-12));
      EXPECT_TRUE(all_close("sum_sq_mean", g.sum_sq_mean, c.sum_sq_mean, 1e-9, 1e-12));
      EXPECT_TRUE(all_close("sum_var", g.sum_var, c.sum_var, 1e-9, 1e-12));
      EXPECT_TRUE(all_close("bias_sum", g.bias_sum, c.bias_sum, 1e-9, 1e-12));
      EXPECT_TRUE(all_close("bias_sum_sq", g.bias_sum_sq, c.bias_sum_sq, 1e-9, 1e-12));
      EXPECT_TRUE(all_close("bias_sum_var", g.bias_sum_var, c.bias_sum_var, 1e-9, 1e-12));
    }
  }
}

// Entities, group priors (n + g) and the population (n + G), on both sides.
TEST_F(Predict, CudaMatchesCpu) {
  for (int rank : {0, 7, 37, 130}) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    load(50, 30, 8, rank, 3, 900 + rank);
    const int32_t ue = population_index(model_, Side::kUsers) + 1,
                  ie = population_index(model_, Side::kItems) + 1;
    Rng rng(rank + 1);
    std::vector<PairIndex> pairs;
    for (int k = 0; k < 500; ++k)
      pairs.push_back({static_cast<int32_t>(rng.below(ue)), static_cast<int32_t>(rng.below(ie))});
    pairs.push_back({prior_index(model_, Side::kUsers, 2), 0});
    pairs.push_back(
        {population_index(model_, Side::kUsers), population_index(model_, Side::kItems)});
    std::vector<float> mc(pairs.size()), vc(pairs.size()), mg(pairs.size(), -1.f),
        vg(pairs.size(), -1.f);
    cpu_->predict(pairs.data(), pairs.size(), mc.data(), vc.data());
    gpu_->predict(pairs.data(), pairs.size(), mg.data(), vg.data());
    EXPECT_TRUE(all_close("mean", mg, mc, 1e-5, 1e-6));
    EXPECT_TRUE(all_close("var", vg, vc, 1e-5, 1e-6));
    const PairIndex bad{ue, 0};
    float m = 0, v = 0;
    EXPECT_THROW(gpu_->predict(&bad, 1, &m, &v), Error);
  }
}

TEST_F(ScoreAllItems, CudaMatchesCpu) {
  for (int rank : {0, 7, 37}) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    load(50, 45, 8, rank, 3, 1100 + rank);
    std::vector<int32_t> users = {
        0, 7, 49, 3, prior_index(model_, Side::kUsers, 1), population_index(model_, Side::kUsers)};
    for (int k = 0; k < 30; ++k) users.push_back((k * 13) % 50);
    const size_t cells = users.size() * static_cast<size_t>(model_.V.n);
    std::vector<float> mc(cells), vc(cells), mg(cells, -1.f), vg(cells, -1.f);
    cpu_->score_all_items(users.data(), users.size(), mc.data(), vc.data());
    gpu_->score_all_items(users.data(), users.size(), mg.data(), vg.data());
    EXPECT_TRUE(all_close("mean", mg, mc, 1e-4, 1e-5));
    EXPECT_TRUE(all_close("var", vg, vc, 1e-4, 1e-5));
    const int32_t bad = population_index(model_, Side::kUsers) + 1;
    EXPECT_THROW(gpu_->score_all_items(&bad, 1, mg.data(), vg.data()), Error);
  }
}

TEST_F(EntryTiming, CudaMeasures) {
  load(60, 25, 12, 37, 3, 77);
  EXPECT_GT(gpu_->time_entry_kernels(0, 500, 5), 0.0);
  const double bw = gpu_->copy_bandwidth();
  EXPECT_GT(bw, 1e11) << "a GPU copies faster than 100 GB/s";
  EXPECT_LT(bw, 1e14);
}

TrainConfig quiet(int epochs, size_t batch) {
  TrainConfig tc;
  tc.epochs = epochs;
  tc.batch_size = batch;
  tc.quiet = true;
  tc.progress = false;
  tc.pool_warmup = 4;  // pooling updates (group_moments, set_priors) within the run
  tc.lr = 0.05f;
  return tc;
}

TEST(Training, CudaMatchesCpu) {
  if (!cuda_usable()) GTEST_SKIP() << "no usable GPU (or built without CUDA)";
  const Ratings all = testing::planted_ratings(150, 100, 3, 15, 0.3, 31);
  const Split split = split_random(all, 0.1, 3);
  TrainInputs in;
  in.train = &split.train;
  in.test = &split.test;
  ModelConfig mc;
  mc.rank = 4;
  auto cpu = make_cpu_backend(2);
  auto gpu = new_cuda_backend();

  // Full batch: the same deterministic trajectory on both (SpMM path, pooling from epoch 4).
  {
    const TrainConfig tc = quiet(12, 0);
    const Model a = train(in, mc, tc, *cpu), b = train(in, mc, tc, *gpu);
    ASSERT_EQ(a.history.size(), b.history.size());
    for (size_t e = 0; e < a.history.size(); ++e) {
      SCOPED_TRACE("epoch " + std::to_string(e + 1));
      EXPECT_TRUE(
          near_rel("elbo/entry", b.history[e].elbo_per_entry, a.history[e].elbo_per_entry, 1e-3));
      EXPECT_TRUE(near_rel("train rmse", b.history[e].train_rmse, a.history[e].train_rmse, 1e-3));
      EXPECT_TRUE(near_rel("test rmse", b.history[e].test_rmse, a.history[e].test_rmse, 1e-3));
      EXPECT_TRUE(near_rel("test nll", b.history[e].test_nll, a.history[e].test_nll, 1e-3));
      EXPECT_TRUE(near_rel("sigma", b.history[e].sigma, a.history[e].sigma, 1e-3));
    }
  }
  // Mini-batches: both backends draw the same permutations (permutation.hpp), so the first epochs
  // agree closely; later, different float summation orders (atomics vs row loops) may drift, so
  // the converged end points are compared more loosely.
  {
    const Ratings planted = testing::planted_ratings(400, 300, 3, 30, 0.3, 21);
    const Split s = split_random(planted, 0.1, 5);
    TrainInputs mini;
    mini.train = &s.train;
    mini.test = &s.test;
    ModelConfig m3;
    m3.rank = 3;
    TrainConfig tc;
    tc.epochs = 40;
    tc.batch_size = 1024;
    tc.quiet = true;
    tc.progress = false;
    const Model a = train(mini, m3, tc, *cpu), b = train(mini, m3, tc, *gpu);
    for (size_t e = 0; e < 3; ++e) {
      SCOPED_TRACE("mini-batch epoch " + std::to_string(e + 1));
      EXPECT_TRUE(
          near_rel("elbo/entry", b.history[e].elbo_per_entry, a.history[e].elbo_per_entry, 1e-3));
      EXPECT_TRUE(near_rel("test rmse", b.history[e].test_rmse, a.history[e].test_rmse, 1e-3));
    }
    const EpochMetrics &ea = a.history.back(), &eb = b.history.back();
    EXPECT_TRUE(near_rel("final elbo/entry", eb.elbo_per_entry, ea.elbo_per_entry, 0.02));
    EXPECT_TRUE(near_rel("final test rmse", eb.test_rmse, ea.test_rmse, 0.02));
    EXPECT_TRUE(near_rel("final sigma", eb.sigma, ea.sigma, 0.02));
    EXPECT_TRUE(near_rel("best test rmse", b.history[b.best_epoch - 1].test_rmse,
                         a.history[a.best_epoch - 1].test_rmse, 0.02));
    EXPECT_LT(eb.test_rmse, 1.25 * 0.3) << "held-out RMSE near the noise level";
  }
}

// Runs everywhere: asking for a GPU that is not there names the --device value, and "auto" falls
// back to the CPU.
TEST(CudaDevices, MissingGpuIsAClearError) {
  if (!list_gpus(nullptr).empty()) GTEST_SKIP() << "a GPU is present";
  try {
    make_backend({DeviceSpec::kGpu, 0}, 1);
    FAIL() << "expected an error for --device 0";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--device 0"), std::string::npos) << e.what();
  }
  EXPECT_EQ(make_backend({DeviceSpec::kAuto, 0}, 1)->name().rfind("cpu", 0), 0u);
}

TEST(CudaDevices, BadIndexIsAClearError) {
  try {
    make_backend({DeviceSpec::kGpu, 99}, 1);
    FAIL() << "expected an error for --device 99";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--device 99"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ppmf
