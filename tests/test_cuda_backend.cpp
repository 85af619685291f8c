// The CUDA backend against the CPU reference, method by method, on seeded random models with
// full-covariance priors (never zeros): exact row solves at ranks that take every path of the
// solve kernel (shared and global memory, heavy rows), the training pass, group moments,
// predictions and dense scores with prior rows, training end to end, and a medium problem with
// hot items. Plain C++ through the Backend interface: it compiles in every build; the GPU tests
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
#include "ppmf/distributed.hpp"
#include "ppmf/perf_model.hpp"
#include "ppmf/scheduler.hpp"
#include "ppmf/side_priors.hpp"
#include "ppmf/split.hpp"
#include "test_util.hpp"
#include "thread_comm.hpp"


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
  return make_backend({DeviceSpec::kGpu, 0});
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

// Both backends loaded with the same random model and training entries.
class CudaVsCpu : public ::testing::Test {
 protected:
  void SetUp() override {
#if !PPMF_WITH_CUDA
    GTEST_SKIP() << "built without CUDA";
#else
    if (!cuda_usable()) GTEST_SKIP() << "no usable GPU";
#endif
  }

  // `per_user` entries per user; `user_groups` user groups. With `hot_item`, every user also
  // rates item 0, so one item row has `users` entries (many staging rounds of the solve kernel).
  void load(int users, int items, int per_user, int rank, int user_groups, uint64_t seed,
            bool hot_item = false) {
    train_ = testing::planted_ratings(users, items, 3, per_user, 0.5, seed);
    if (hot_item) {
      Rng rng(seed);
      std::vector<char> has(users, 0);
      for (size_t e = 0; e < train_.size(); ++e)
        if (train_.item[e] == 0) has[train_.user[e]] = 1;
      for (int u = 0; u < users; ++u)
        if (!has[u]) train_.push(u, 0, static_cast<float>(3.0 + rng.normal()));
    }
    model_ = testing::random_model(train_, rank, user_groups, seed + 1);
    cpu_ = make_cpu_backend(2);
    gpu_ = new_cuda_backend();
    for (Backend* b : {cpu_.get(), gpu_.get()}) {
      b->load_model(model_);
      b->load_training(train_.user, train_.item, train_.value);
    }
  }

  ::testing::AssertionResult guides_match(const std::string& what, double rtol) {
    Model mc = model_, mg = model_;
    cpu_->store_guide(mc);
    gpu_->store_guide(mg);
    const auto u = blocks_close(what + " users", mg.U, mc.U, rtol, rtol / 10);
    if (!u) return u;
    return blocks_close(what + " items", mg.V, mc.V, rtol, rtol / 10);
  }

  Ratings train_;
  Model model_;
  std::unique_ptr<Backend> cpu_, gpu_;
};

using SolveRows = CudaVsCpu;
using TrainPass = CudaVsCpu;
using GroupMoments = CudaVsCpu;  // the test suite; the result type is ppmf::GroupMoments below
using Predict = CudaVsCpu;
using ScoreAllItems = CudaVsCpu;
using Ceilings = CudaVsCpu;

// Ranks: biases only; 7 and 37 (dims not multiples of 4 or 32); 95 (P in shared memory on every
// card since Ampere); 200 (P in global memory on every card).
const int kRanks[] = {0, 7, 37, 95, 200};

TEST_F(SolveRows, CudaMatchesCpu) {
  for (int rank : kRanks) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    load(60, 25, 12, rank, 3, 100 + rank, /*hot_item=*/true);
    for (Backend* b : {cpu_.get(), gpu_.get()}) {
      b->solve_rows(Side::kUsers, 0, model_.U.n);
      b->solve_rows(Side::kItems, 3, model_.V.n);  // a range: rows 0..2 keep their guide
      b->solve_rows(Side::kItems, 0, 3);
      b->solve_rows(Side::kUsers, 10, 30);
    }
    EXPECT_TRUE(guides_match("after the sweeps", 2e-4));
    EXPECT_THROW(gpu_->solve_rows(Side::kUsers, 5, model_.U.n + 1), Error);
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
      // Then again after a sweep (device-computed rows).
      for (Backend* b : {cpu_.get(), gpu_.get()}) b->solve_rows(Side::kUsers, 0, model_.U.n);
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
      ASSERT_EQ(g.dim, c.dim);
      EXPECT_EQ(g.count, c.count);
      EXPECT_TRUE(all_close("sum_mean", g.sum_mean, c.sum_mean, 1e-9, 1e-12));
      EXPECT_TRUE(all_close("sum_outer", g.sum_outer, c.sum_outer, 1e-9, 1e-12));
      EXPECT_TRUE(all_close("sum_var", g.sum_var, c.sum_var, 1e-9, 1e-12));
    }
  }
}

// Trained rows and every kind of prior row (groups, population, new users) on both sides.
TEST_F(Predict, CudaMatchesCpu) {
  for (int rank : {0, 7, 37, 130}) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    load(50, 30, 8, rank, 3, 900 + rank);
    const int32_t ue = extended_size(model_, Side::kUsers), ie = extended_size(model_, Side::kItems);
    Rng rng(rank + 1);
    std::vector<PairIndex> pairs;
    for (int k = 0; k < 500; ++k)
      pairs.push_back({static_cast<int32_t>(rng.below(ue)), static_cast<int32_t>(rng.below(ie))});
    pairs.push_back({prior_index(model_, Side::kUsers, 2), 0});
    pairs.push_back({new_user_index(model_, -1), population_index(model_, Side::kItems)});
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
    std::vector<int32_t> users = {0,
                                  7,
                                  49,
                                  3,
                                  prior_index(model_, Side::kUsers, 1),
                                  population_index(model_, Side::kUsers),
                                  new_user_index(model_, 2),
                                  prior_index(model_, Side::kUsers, 1)};
    for (int k = 0; k < 30; ++k) users.push_back((k * 13) % 50);
    const size_t cells = users.size() * static_cast<size_t>(model_.V.n);
    std::vector<float> mc(cells), vc(cells), mg(cells, -1.f), vg(cells, -1.f);
    cpu_->score_all_items(users.data(), users.size(), mc.data(), vc.data());
    gpu_->score_all_items(users.data(), users.size(), mg.data(), vg.data());
    EXPECT_TRUE(all_close("mean", mg, mc, 1e-4, 1e-5));
    EXPECT_TRUE(all_close("var", vg, vc, 1e-4, 1e-5));
    const int32_t bad = extended_size(model_, Side::kUsers);
    EXPECT_THROW(gpu_->score_all_items(&bad, 1, mg.data(), vg.data()), Error);
  }
}

TEST_F(Ceilings, CudaMeasures) {
  load(60, 25, 12, 37, 3, 77);
  const double bw = gpu_->copy_bandwidth();
  EXPECT_GT(bw, 1e11) << "a GPU copies faster than 100 GB/s";
  EXPECT_LT(bw, 1e14);
  const double peak = gpu_->peak_flops();
  EXPECT_GT(peak, 1e12) << "a GPU multiplies and adds faster than 1 TFLOP/s";
  EXPECT_LT(peak, 1e15);
}

// Training end to end: validation, early stopping, refit, pooling with groups; the trajectories
// agree epoch by epoch within float tolerance.
TEST(Training, CudaMatchesCpu) {
  if (!cuda_usable()) GTEST_SKIP() << "no usable GPU (or built without CUDA)";
  const Ratings all = testing::planted_ratings(400, 300, 3, 30, 0.3, 21);
  const Split split = split_random(all, 0.1, 3);
  GroupFile groups;
  for (size_t u = 0; u < all.users.size(); ++u)
    groups[std::string(all.users.name(static_cast<int32_t>(u)))] = u % 3 ? "a" : "b";
  TrainInputs in;
  in.train = &split.train;
  in.test = &split.test;
  in.user_groups = &groups;
  ModelConfig mc;
  mc.rank = 4;
  auto cpu = make_cpu_backend(2);
  auto gpu = new_cuda_backend();
  const TrainConfig tc = testing::epochs_config(15);
  const Model a = train(in, mc, tc, *cpu).model, b = train(in, mc, tc, *gpu).model;
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t e = 0; e < a.history.size(); ++e) {
    SCOPED_TRACE("epoch " + std::to_string(e + 1));
    EXPECT_TRUE(
        near_rel("elbo/entry", b.history[e].elbo_per_entry, a.history[e].elbo_per_entry, 1e-3));
    EXPECT_TRUE(near_rel("train rmse", b.history[e].train_rmse, a.history[e].train_rmse, 1e-3));
    EXPECT_TRUE(near_rel("test rmse", b.history[e].test_rmse, a.history[e].test_rmse, 1e-3));
    EXPECT_TRUE(near_rel("sigma", b.history[e].sigma, a.history[e].sigma, 1e-3));
  }
  EXPECT_LT(b.history.back().test_rmse, 1.25 * 0.3) << "held-out RMSE near the noise level";
}

// The watch model's implicit zeros on the GPU (the background kernel and weighted entries)
// against the CPU backend, both sides, at ranks that keep P in shared memory and that do not.
TEST(ImplicitZeros, CudaMatchesCpu) {
  if (!cuda_usable()) GTEST_SKIP() << "no usable GPU (or built without CUDA)";
  const Ratings r = testing::planted_ratings(3001, 517, 3, 9, 0.3, 41);
  for (const int rank : {5, 130}) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    Model m = testing::random_model(r, rank, 3, 7 + rank);
    m.mu0 = 0;
    m.sigma2 = 1;
    const float w0 = 1.5f;
    const std::vector<float> confidence(r.size(), w0 + 4.0f);
    for (const Side side : {Side::kUsers, Side::kItems}) {
      Model a = m, b = m;
      auto cpu = make_cpu_backend(2);
      auto gpu = new_cuda_backend();
      for (Backend* x : {cpu.get(), gpu.get()}) {
        ASSERT_TRUE(x->supports_implicit());
        x->load_model(m);
        x->set_implicit(w0);
        x->load_training(r.user, r.item, confidence);
        x->solve_rows(side, 0, side == Side::kUsers ? m.U.n : m.V.n);
      }
      cpu->store_guide(a);
      gpu->store_guide(b);
      const GuideBlock& ga = side == Side::kUsers ? a.U : a.V;
      const GuideBlock& gb = side == Side::kUsers ? b.U : b.V;
      EXPECT_TRUE(all_close("mean", gb.mean.data(), ga.mean.data(), ga.mean.size(), 1e-3, 1e-4));
      EXPECT_TRUE(all_close("logsd", gb.logsd.data(), ga.logsd.data(), ga.logsd.size(), 1e-3,
                            1e-4));
      EXPECT_TRUE(all_close("bias", gb.bias_mean.data(), ga.bias_mean.data(), ga.bias_mean.size(),
                            1e-3, 1e-4));
    }
  }
}

// Distributed training's row operations on the GPU against the CPU: a side's statistics (plain
// and with implicit zeros), solves from statistics, the background, and the rows in and out; at
// ranks that keep P in shared memory and that do not; odd row ranges.
TEST(DistributedOps, CudaMatchesCpu) {
  if (!cuda_usable()) GTEST_SKIP() << "no usable GPU (or built without CUDA)";
  const Ratings r = testing::planted_ratings(1203, 317, 3, 9, 0.3, 43);
  for (const int rank : {5, 130}) {
    for (const float w0 : {0.0f, 1.5f}) {
      SCOPED_TRACE("rank " + std::to_string(rank) + ", zero weight " + std::to_string(w0));
      const Model m = testing::random_model(r, rank, 3, 11 + rank);
      const std::vector<float> values = w0 > 0 ? std::vector<float>(r.size(), w0 + 4.0f) : r.value;
      auto cpu = make_cpu_backend(2);
      auto gpu = new_cuda_backend();
      for (Backend* x : {cpu.get(), gpu.get()}) {
        x->load_model(m);
        if (w0 > 0) x->set_implicit(w0);
        x->load_training(r.user, r.item, values);
      }
      const int begin = 17, end = 301;
      const size_t len = row_statistics_size(rank) * (end - begin);
      std::vector<double> sc(len), sg(len);
      cpu->row_statistics(Side::kItems, begin, end, sc.data());
      gpu->row_statistics(Side::kItems, begin, end, sg.data());
      for (size_t k = 0; k < len; ++k)
        ASSERT_NEAR(sg[k], sc[k], 1e-6 * (1 + std::abs(sc[k]))) << "statistic " << k;
      if (w0 > 0) {
        const std::vector<double> bc = cpu->implicit_background(Side::kItems);
        const std::vector<double> bg = gpu->implicit_background(Side::kItems);
        ASSERT_EQ(bc.size(), bg.size());
        for (size_t k = 0; k < bc.size(); ++k)
          ASSERT_NEAR(bg[k], bc[k], 1e-6 * (1 + std::abs(bc[k]))) << "background " << k;
        for (Backend* x : {cpu.get(), gpu.get()}) x->set_background(Side::kItems, bc);
      }
      // Both solve from the CPU's statistics; then the rows out of one and into the other.
      for (Backend* x : {cpu.get(), gpu.get()}) x->solve_rows_from(Side::kItems, begin, end, sc.data());
      const size_t row_len = 2 * static_cast<size_t>(rank + 1) * (end - begin);
      std::vector<float> rc(row_len), rg(row_len);
      cpu->get_rows(Side::kItems, begin, end, rc.data());
      gpu->get_rows(Side::kItems, begin, end, rg.data());
      EXPECT_TRUE(all_close("rows", rg.data(), rc.data(), row_len, 1e-3, 1e-4));
      gpu->set_rows(Side::kItems, begin, end, rc.data());
      gpu->get_rows(Side::kItems, begin, end, rg.data());
      EXPECT_EQ(testing::bits(rg), testing::bits(rc));
    }
  }
}

// Distributed training with a GPU per rank (here two ranks on one GPU, over the thread
// transport): one rank is the single-GPU model within float tolerance, two reach the CPU run's
// held-out accuracy.
TEST(Distributed, CudaRanksMatchOneProcess) {
  if (!cuda_usable()) GTEST_SKIP() << "no usable GPU (or built without CUDA)";
  const Ratings all = testing::planted_ratings(900, 250, 3, 15, 0.3, 47);
  const Split split = split_by_hash(all, 0.1, 3);
  ModelConfig mc;
  mc.rank = 5;
  TrainConfig tc = testing::epochs_config(15);
  tc.watch.epochs = 2;
  const auto train_on = [&](int ranks) {
    std::vector<TrainResult> out(ranks);
    const auto errors = testing::run_ranks(ranks, [&](Comm& comm) {
      const Ratings mine = owned_entries(split.train, comm), test = owned_entries(split.test, comm);
      TrainInputs in;
      in.train = &mine;
      in.test = &test;
      in.comm = &comm;
      out[comm.rank()] = train(in, mc, tc, *new_cuda_backend());
    });
    for (const auto& e : errors)
      if (e) std::rethrow_exception(e);
    return out;
  };
  TrainInputs in;
  in.train = &split.train;
  in.test = &split.test;
  const TrainResult gpu = train(in, mc, tc, *new_cuda_backend());
  const TrainResult cpu = train(in, mc, tc, *make_cpu_backend(2));
  const TrainResult one = train_on(1)[0];
  EXPECT_TRUE(all_close("U mean", one.model.U.mean.data(), gpu.model.U.mean.data(),
                        gpu.model.U.mean.size(), 1e-3, 1e-4));
  EXPECT_TRUE(all_close("watch V mean", one.model.watch.V.mean.data(),
                        gpu.model.watch.V.mean.data(), gpu.model.watch.V.mean.size(), 1e-3, 1e-4));
  const TrainResult two = train_on(2)[0];
  EXPECT_NEAR(two.report.kept.test_rmse, cpu.report.kept.test_rmse, 0.005);
}

// One rank over NCCL (no MPI): the collectives work, and training through them gives the
// single-GPU model within float tolerance.
TEST(Distributed, CudaOverNcclOneRankMatchesOneGpu) {
  if (!cuda_usable()) GTEST_SKIP() << "no usable GPU (or built without CUDA)";
  std::unique_ptr<Comm> nccl;
  try {
    nccl = make_nccl_comm(0, nullptr);
  } catch (const Error& e) {
    if (std::string(e.what()).find("has no NCCL") != std::string::npos) GTEST_SKIP() << e.what();
    FAIL() << e.what();
  }
  EXPECT_EQ(nccl->transport(), "nccl");
  std::vector<double> v = {1.5, -2.0, 1e-300};
  nccl->sum(v);
  EXPECT_EQ(v, (std::vector<double>{1.5, -2.0, 1e-300}));
  EXPECT_EQ(nccl->min(-7), -7);
  EXPECT_EQ(nccl->broadcast("id bytes", 0), "id bytes");
  EXPECT_EQ(nccl->all_gather("x"), std::vector<std::string>{"x"});

  const Ratings all = testing::planted_ratings(700, 200, 3, 12, 0.3, 53);
  ModelConfig mc;
  mc.rank = 4;
  TrainConfig tc = testing::epochs_config(6);
  tc.watch.epochs = 2;
  TrainInputs in;
  in.train = &all;
  const Model alone = train(in, mc, tc, *new_cuda_backend()).model;
  in.comm = nccl.get();
  const Model over = train(in, mc, tc, *new_cuda_backend()).model;
  EXPECT_TRUE(all_close("V mean", over.V.mean.data(), alone.V.mean.data(), alone.V.mean.size(),
                        1e-3, 1e-4));
  EXPECT_TRUE(all_close("watch U mean", over.watch.U.mean.data(), alone.watch.U.mean.data(),
                        alone.watch.U.mean.size(), 1e-3, 1e-4));
}

// A run interrupted after epoch 3 and resumed from its checkpoint on the GPU ends with the model
// of the uninterrupted GPU run, within float tolerance (atomics reorder the GPU's sums).
TEST(Checkpoints, CudaResumeMatchesTheUninterruptedRun) {
  if (!cuda_usable()) GTEST_SKIP() << "no usable GPU (or built without CUDA)";
  const Ratings all = testing::planted_ratings(500, 200, 3, 20, 0.3, 31);
  TrainInputs in;
  in.train = &all;
  ModelConfig mc;
  mc.rank = 5;
  TrainConfig tc = testing::epochs_config(8);
  tc.valid_frac = 0;
  tc.checkpoint = testing::temp_path("gpu.ckpt");
  const Model whole = train(in, mc, tc, *new_cuda_backend()).model;
  int epochs = 0;
  TrainCallbacks cb;
  cb.on_epoch = [&](const EpochMetrics&) { ++epochs; };
  cb.cancelled = [&] { return epochs >= 3; };
  EXPECT_THROW(train(in, mc, tc, *new_cuda_backend(), cb), Cancelled);
  in.resume_from = tc.checkpoint;
  const Model resumed = train(in, mc, tc, *new_cuda_backend()).model;
  ASSERT_EQ(resumed.history.size(), whole.history.size());
  EXPECT_TRUE(all_close("U mean", resumed.U.mean.data(), whole.U.mean.data(),
                        whole.U.mean.size(), 1e-3, 1e-4));
  EXPECT_TRUE(all_close("V logsd", resumed.V.logsd.data(), whole.V.logsd.data(),
                        whole.V.logsd.size(), 1e-3, 1e-4));
  EXPECT_TRUE(near_rel("sigma", resumed.history.back().sigma, whole.history.back().sigma, 1e-4));
}

// A medium problem (~200k entries, skewed item popularity: a few items in thousands of entries)
// at ranks 130 and 300 (P in global memory, many staging rounds per hot item row, group moments
// over many chunks, multi-block scoring).
TEST(MediumProblem, CudaMatchesCpu) {
  if (!cuda_usable()) GTEST_SKIP() << "no usable GPU (or built without CUDA)";
  const Ratings r = generate_bench_problem(20000, 3000, 200000, 5);
  for (const int rank : {130, 300}) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    ModelConfig mc;
    mc.rank = rank;
    Model model = init_model(compact(r), compact(r).value, mc, nullptr, nullptr, 3);
    const Ratings c = compact(r);
    auto cpu = make_cpu_backend(0);
    auto gpu = new_cuda_backend();
    for (Backend* b : {cpu.get(), gpu.get()}) {
      b->load_model(model);
      b->load_training(c.user, c.item, c.value);
      b->solve_rows(Side::kItems, 0, model.V.n);
      b->solve_rows(Side::kUsers, 0, model.U.n);
    }
    Model mcpu = model, mgpu = model;
    cpu->store_guide(mcpu);
    gpu->store_guide(mgpu);
    EXPECT_TRUE(blocks_close("users", mgpu.U, mcpu.U, 1e-3, 1e-4));
    EXPECT_TRUE(blocks_close("items", mgpu.V, mcpu.V, 1e-3, 1e-4));
    const ppmf::GroupMoments gc = cpu->group_moments(Side::kUsers),
                             gg = gpu->group_moments(Side::kUsers);
    EXPECT_TRUE(all_close("sum_outer", gg.sum_outer, gc.sum_outer, 1e-6, 1e-9));
    const TrainPassStats pc = cpu->train_pass(), pg = gpu->train_pass();
    EXPECT_TRUE(near_rel("sse_expected", pg.sse_expected, pc.sse_expected, 1e-4));
    std::vector<int32_t> users(300);
    for (int k = 0; k < 300; ++k) users[k] = k * 61;
    std::vector<float> m1(users.size() * model.V.n), v1(m1.size()), m2(m1.size()), v2(m1.size());
    cpu->score_all_items(users.data(), users.size(), m1.data(), v1.data());
    gpu->score_all_items(users.data(), users.size(), m2.data(), v2.data());
    EXPECT_TRUE(all_close("scores", m2, m1, 1e-3, 1e-4));
    EXPECT_TRUE(all_close("score variances", v2, v1, 1e-3, 1e-4));
  }
}

// Both backends (the CUDA one where a GPU is present) refuse indices outside the model with the
// same one-line errors, before any work reaches the device.
TEST(Backends, RefuseIndicesOutsideTheModel) {
  const Ratings r = testing::planted_ratings(20, 10, 2, 5, 0.3, 4);
  ModelConfig mc;
  mc.rank = 2;
  const Model m = init_model(r, r.value, mc, nullptr, nullptr, 1);
  std::vector<std::unique_ptr<Backend>> backends;
  backends.push_back(make_cpu_backend(1));
  if (cuda_usable()) backends.push_back(new_cuda_backend());
  const int32_t user_rows = extended_size(m, Side::kUsers), item_rows = extended_size(m, Side::kItems);
  for (auto& b : backends) {
    SCOPED_TRACE(b->name());
    b->load_model(m);
    const auto message = [](auto&& call) {
      try {
        call();
      } catch (const Error& e) {
        return std::string(e.what());
      }
      return std::string("(no error)");
    };
    std::vector<int32_t> user = r.user, item = r.item;
    item[3] = m.V.n;
    EXPECT_EQ(message([&] { b->load_training(user, item, r.value); }),
              "a training entry has an index outside the model");
    EXPECT_EQ(message([&] { b->load_training(user, r.item, {1.0f}); }),
              "training arrays differ in length");
    const PairIndex pairs[] = {{0, 0}, {user_rows - 1, item_rows - 1}, {user_rows, 0}};
    float mean[3], var[3];
    EXPECT_EQ(message([&] { b->predict(pairs, 3, mean, var); }),
              "prediction pair 2 has an index outside the model");
    EXPECT_EQ(message([&] { b->predict(pairs, 2, mean, var); }), "(no error)");
    const int32_t users[] = {0, -1};
    std::vector<float> scores(2 * m.V.n), vars(2 * m.V.n);
    EXPECT_EQ(message([&] { b->score_all_items(users, 2, scores.data(), vars.data()); }),
              "scoring: user index -1 is outside the model");
  }
}

// Runs everywhere: asking for a GPU that is not there is a ConfigError of the device setting that
// names the GPU, and "auto" falls back to the CPU.
TEST(CudaDevices, MissingGpuIsAClearError) {
  if (!list_gpus(nullptr).empty()) GTEST_SKIP() << "a GPU is present";
  try {
    make_backend({DeviceSpec::kGpu, 0, 1});
    FAIL() << "expected an error for GPU 0";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "device");
    EXPECT_NE(std::string(e.what()).find("GPU 0"), std::string::npos) << e.what();
  }
  EXPECT_EQ(make_backend({DeviceSpec::kAuto, 0, 1})->name().rfind("cpu", 0), 0u);
}

TEST(CudaDevices, BadIndexIsAClearError) {
  try {
    make_backend({DeviceSpec::kGpu, 99, 1});
    FAIL() << "expected an error for GPU 99";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "device");
    EXPECT_NE(std::string(e.what()).find("GPU 99"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ppmf
