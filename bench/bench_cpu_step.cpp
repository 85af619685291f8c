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
#include <vector>

#include "bench_problem.hpp"
#include "cpu_backend.hpp"
#include "ppmf/perf_model.hpp"
#include "ppmf/scheduler.hpp"

namespace {

BenchProblem g_problem{100000, 20000, 2000000, 4096};
double g_copy_bandwidth = 0;  // bytes/s (read + write)

void BM_CpuEpoch(benchmark::State& state) {
  const int rank = static_cast<int>(state.range(0));
  const ppmf::Ratings r =
      ppmf::generate_bench_problem(g_problem.users, g_problem.items, g_problem.nnz, 7);
  ppmf::ModelConfig mc;
  mc.rank = rank;
  const ppmf::Model model = ppmf::init_model(r, r.value, mc, nullptr, nullptr, 1);
  auto backend = ppmf::make_cpu_backend(g_problem.threads);
  backend->load_model(model);
  backend->load_training(r.user, r.item, r.value);
  const auto bounds = ppmf::batch_boundaries(r.size(), g_problem.batch);
  ppmf::StepParams p;
  p.adam = {0.01f, 0.9f, 0.999f, 1e-8f, 1.f, 1.f};
  uint64_t epoch = 0;
  for (auto _ : state) {
    backend->shuffle(++epoch);
    for (size_t b = 0; b + 1 < bounds.size(); ++b) {
      p.scale = static_cast<float>(r.size()) / (bounds[b + 1] - bounds[b]);
      backend->step(bounds[b], bounds[b + 1], p);
    }
  }
  const double entries = static_cast<double>(state.iterations()) * r.size();
  report_throughput(
      state, entries,
      ppmf::step_bytes_per_entry(rank, ppmf::touched_rows_per_entry(r, g_problem.batch, 3)),
      g_copy_bandwidth);
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
