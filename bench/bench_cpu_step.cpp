// CPU training-step throughput at ranks 16..128 (Google Benchmark): entries/s of a whole epoch of
// mini-batch steps, the bytes a step moves per entry (counted), and that traffic as a fraction of
// this machine's streaming-copy bandwidth, measured at start-up in the same run.
//
// Usage: bench_cpu_step [--users N] [--items N] [--nnz N] [--batch N] [--threads N] [benchmark
// flags]
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "bench_problem.hpp"
#include "cpu_backend.hpp"
#include "ppmf/perf_model.hpp"
#include "ppmf/scheduler.hpp"

namespace {

BenchProblem g_problem{100000, 20000, 2000000, 4096};
double g_copy_bandwidth = 0;  // bytes/s (read + write)

// Zipf-ish random entries, unique (user, item) pairs not required for throughput.
void make_entries(std::vector<int32_t>& u, std::vector<int32_t>& i, std::vector<float>& v) {
  ppmf::Rng rng(7);
  u.resize(g_problem.nnz);
  i.resize(g_problem.nnz);
  v.resize(g_problem.nnz);
  for (size_t k = 0; k < g_problem.nnz; ++k) {
    u[k] = static_cast<int32_t>(rng.below(g_problem.users));
    // Popular items are drawn more often: square of a uniform skews towards low indices.
    const double x = rng.uniform();
    i[k] = static_cast<int32_t>(x * x * g_problem.items);
    v[k] = static_cast<float>(3.0 + rng.normal());
  }
}

// Rows touched per entry in a batch, measured on random batches of the generated entries.
double touched_rows_per_entry(const std::vector<int32_t>& u, const std::vector<int32_t>& i) {
  ppmf::Rng rng(3);
  double total = 0;
  const int trials = 8;
  for (int t = 0; t < trials; ++t) {
    std::unordered_set<int32_t> us, is;
    for (size_t k = 0; k < g_problem.batch; ++k) {
      const size_t at = rng.below(u.size());
      us.insert(u[at]);
      is.insert(i[at]);
    }
    total += static_cast<double>(us.size() + is.size()) / g_problem.batch;
  }
  return total / trials;
}

void BM_CpuEpoch(benchmark::State& state) {
  const int rank = static_cast<int>(state.range(0));
  std::vector<int32_t> u, i;
  std::vector<float> v;
  make_entries(u, i, v);
  ppmf::Ratings r;
  for (int k = 0; k < g_problem.users; ++k) r.users.insert(std::to_string(k));
  for (int k = 0; k < g_problem.items; ++k) r.items.insert(std::to_string(k));
  r.user = u;
  r.item = i;
  r.value = v;
  ppmf::ModelConfig mc;
  mc.rank = rank;
  const ppmf::Model model = ppmf::init_model(r, v, mc, nullptr, nullptr, 1);
  auto backend = ppmf::make_cpu_backend(g_problem.threads);
  backend->load_model(model);
  backend->load_training(u, i, v);
  const auto bounds = ppmf::batch_boundaries(u.size(), g_problem.batch);
  ppmf::StepParams p;
  p.adam = {0.01f, 0.9f, 0.999f, 1e-8f, 1.f, 1.f};
  uint64_t epoch = 0;
  for (auto _ : state) {
    backend->shuffle(++epoch);
    for (size_t b = 0; b + 1 < bounds.size(); ++b) {
      p.scale = static_cast<float>(u.size()) / (bounds[b + 1] - bounds[b]);
      backend->step(bounds[b], bounds[b + 1], p);
    }
  }
  // Bytes per entry as counted by the shared performance model (perf_model.hpp).
  const double bytes_per_entry = ppmf::step_bytes_per_entry(rank, touched_rows_per_entry(u, i));
  const double entries = static_cast<double>(state.iterations()) * u.size();
  state.counters["entries/s"] = benchmark::Counter(entries, benchmark::Counter::kIsRate);
  state.counters["bytes/entry"] = bytes_per_entry;
  state.counters["GB/s"] =
      benchmark::Counter(entries * bytes_per_entry / 1e9, benchmark::Counter::kIsRate);
  state.counters["copy_GB/s"] = g_copy_bandwidth / 1e9;
  state.SetItemsProcessed(static_cast<int64_t>(entries));
}
BENCHMARK(BM_CpuEpoch)
    ->Arg(16)
    ->Arg(32)
    ->Arg(64)
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = parse_problem_flags(argc, argv, g_problem);
  if (g_problem.threads == 0)
    g_problem.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  g_copy_bandwidth = ppmf::make_cpu_backend(g_problem.threads)->copy_bandwidth();
  std::printf(
      "problem: %d users, %d items, %zu entries, batch %zu, %d threads; streaming copy %.1f GB/s\n",
      g_problem.users, g_problem.items, g_problem.nnz, g_problem.batch, g_problem.threads,
      g_copy_bandwidth / 1e9);
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
