// The collectives of comm.hpp on the thread transport: ordered sums bit for bit, slices of
// awkward sizes, gathers, and the failure agreement.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "ppmf/comm.hpp"
#include "thread_comm.hpp"

namespace ppmf {
namespace {

using testing::run_ranks;

void expect_no_errors(const std::vector<std::exception_ptr>& errors) {
  for (size_t r = 0; r < errors.size(); ++r) {
    if (!errors[r]) continue;
    try {
      std::rethrow_exception(errors[r]);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "rank " << r << ": " << e.what();
    }
  }
}

// Rank r's terms: random, of mixed magnitudes, so the order of the additions shows in the bits.
std::vector<double> terms(int rank, size_t n) {
  std::mt19937_64 gen(1000 + rank);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> v(n);
  for (size_t k = 0; k < n; ++k) v[k] = u(gen) * std::pow(10.0, static_cast<int>(gen() % 17) - 8);
  return v;
}

TEST(Comm, SumAddsInRankOrderOnEveryRank) {
  for (const int p : {1, 2, 3, 5}) {
    for (const size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{1001}}) {
      std::vector<double> expected = terms(0, n);
      for (int r = 1; r < p; ++r) {
        const std::vector<double> t = terms(r, n);
        for (size_t k = 0; k < n; ++k) expected[k] += t[k];
      }
      std::vector<std::vector<double>> got(p);
      expect_no_errors(run_ranks(p, [&](Comm& c) {
        got[c.rank()] = terms(c.rank(), n);
        c.sum(got[c.rank()]);
      }));
      for (int r = 0; r < p; ++r)
        ASSERT_TRUE(n == 0 || std::memcmp(expected.data(), got[r].data(), n * sizeof(double)) == 0)
            << "P " << p << " n " << n << " rank " << r;
    }
  }
}

TEST(Comm, SumIsNotReassociated) {
  // In rank order (1 + 1e16) - 1e16 = 0; any other grouping gives 1.
  const double x[3] = {1.0, 1e16, -1e16};
  expect_no_errors(run_ranks(3, [&](Comm& c) {
    double v = x[c.rank()];
    c.sum(&v, 1);
    EXPECT_EQ(v, 0.0);
  }));
}

TEST(Comm, SlicesOfUnevenCuts) {
  const std::vector<size_t> cut = {0, 0, 5, 6, 19};  // an empty slice, a one-element slice
  const size_t n = cut.back();
  std::vector<std::vector<double>> got(4);
  std::vector<std::vector<float>> shared(4);
  expect_no_errors(run_ranks(4, [&](Comm& c) {
    std::vector<double> v = terms(c.rank(), n);
    c.sum_slices(v.data(), cut);
    got[c.rank()] = v;
    std::vector<float> f(n, -1.f);
    for (size_t k = cut[c.rank()]; k < cut[c.rank() + 1]; ++k) f[k] = 100.f * c.rank() + k;
    c.share_slices(f.data(), sizeof(float), cut);
    shared[c.rank()] = f;
  }));
  for (int r = 0; r < 4; ++r) {
    for (size_t k = cut[r]; k < cut[r + 1]; ++k) {
      double s = terms(0, n)[k];
      for (int q = 1; q < 4; ++q) s += terms(q, n)[k];
      EXPECT_EQ(got[r][k], s) << "rank " << r << " element " << k;
    }
    for (int q = 0; q < 4; ++q)
      for (size_t k = cut[q]; k < cut[q + 1]; ++k) EXPECT_EQ(shared[r][k], 100.f * q + k);
  }
}

TEST(Comm, GathersExchangesAndBroadcasts) {
  expect_no_errors(run_ranks(3, [&](Comm& c) {
    const std::vector<std::string> all = c.all_gather(std::string(c.rank() + 1, 'a' + c.rank()));
    ASSERT_EQ(all.size(), 3u);
    for (int r = 0; r < 3; ++r) EXPECT_EQ(all[r], std::string(r + 1, 'a' + r));
    std::vector<std::string> to(3);
    for (int r = 0; r < 3; ++r) to[r] = std::to_string(c.rank()) + ">" + std::to_string(r);
    const std::vector<std::string> from = c.all_to_all(to);
    for (int r = 0; r < 3; ++r) EXPECT_EQ(from[r], std::to_string(r) + ">" + std::to_string(c.rank()));
    EXPECT_EQ(c.broadcast(c.rank() == 2 ? "from two" : "", 2), "from two");
    EXPECT_EQ(c.min(10 - c.rank()), 8);
  }));
}

TEST(Comm, BytesMovedBySumAreTwiceTheSlices) {
  const size_t n = 3000;
  std::vector<uint64_t> bytes(3);
  expect_no_errors(run_ranks(3, [&](Comm& c) {
    std::vector<double> v(n, 1.0);
    c.sum(v);
    bytes[c.rank()] = c.stats().bytes;
  }));
  // Reduce-scatter then all-gather: (P - 1) / P of the data each way.
  for (const uint64_t b : bytes) EXPECT_EQ(b, 2 * 2000 * sizeof(double));
}

TEST(Comm, AFailedRankStopsEveryRankWithItsReason) {
  const auto errors = run_ranks(4, [&](Comm& c) {
    std::vector<double> v(10, 1.0);
    c.sum(v);
    if (c.rank() == 2 || c.rank() == 3) c.fail("bad input on rank " + std::to_string(c.rank()));
    c.sum(v);  // the others wait here, then learn of the failure
    c.finish();
  });
  for (int r = 0; r < 4; ++r) {
    ASSERT_TRUE(errors[r]) << "rank " << r << " did not stop";
    try {
      std::rethrow_exception(errors[r]);
    } catch (const RemoteFailure& e) {
      EXPECT_EQ(e.rank(), 2);  // the lowest failing rank's reason
      EXPECT_STREQ(e.what(), "rank 2: bad input on rank 2");
    }
  }
}

TEST(Comm, FinishCatchesALateFailure) {
  const auto errors = run_ranks(2, [&](Comm& c) {
    if (c.rank() == 0) c.fail("could not write the model");
    c.finish();
  });
  for (const auto& e : errors) EXPECT_TRUE(e);
}

TEST(Comm, SingleProcessIsTheIdentity) {
  auto c = single_process_comm();
  std::vector<double> v = terms(0, 17), w = v;
  c->sum(v);
  EXPECT_EQ(v, w);
  EXPECT_EQ(c->all_gather("x"), std::vector<std::string>{"x"});
  EXPECT_EQ(c->stats().bytes, 0u);
}

}  // namespace
}  // namespace ppmf
