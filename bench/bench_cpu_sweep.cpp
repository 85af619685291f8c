// CPU sweep throughput at ranks 16..128 (Google Benchmark): entries/s of an exact sweep over every
// user row and over every item row, their flops as a fraction of this machine's multiply-add peak
// and their counted bytes as a fraction of its streaming-copy bandwidth, both measured at start-up
// in the same run.
//
// Usage: bench_cpu_sweep [--users N] [--items N] [--nnz N] [--threads N] [benchmark flags]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <thread>
#include <vector>

#include "bench_problem.hpp"
#include "cpu_backend.hpp"
#include "ppmf/perf_model.hpp"
#include "ppmf/scheduler.hpp"

namespace {

BenchProblem g_problem{100000, 20000, 2000000};
Ceilings g_ceilings;

void BM_CpuSweep(benchmark::State& state) {
  const int rank = static_cast<int>(state.range(0));
  const ppmf::Side side = state.range(1) == 0 ? ppmf::Side::kUsers : ppmf::Side::kItems;
  const ppmf::Ratings r =
      ppmf::generate_bench_problem(g_problem.users, g_problem.items, g_problem.nnz, 7);
  ppmf::ModelConfig mc;
  mc.rank = rank;
  ppmf::Model model = ppmf::init_model(r, r.value, mc, nullptr, nullptr, 1);
  auto backend = ppmf::make_cpu_backend(g_problem.threads);
  backend->load_model(model);
  backend->load_training(r.user, r.item, r.value);
  const int rows = side == ppmf::Side::kUsers ? model.U.n : model.V.n;
  for (auto _ : state) backend->solve_rows(side, 0, rows);
  report_sweep(state, static_cast<double>(state.iterations()), r.size(), rows, rank, g_ceilings);
}
BENCHMARK(BM_CpuSweep)
    ->ArgNames({"rank", "items"})
    ->ArgsProduct({{16, 32, 64, 128}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = parse_problem_flags(argc, argv, g_problem);
  if (g_problem.threads == 0)
    g_problem.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto probe = ppmf::make_cpu_backend(g_problem.threads);
  g_ceilings = {probe->copy_bandwidth(), probe->peak_flops()};
  std::printf(
      "problem: %d users, %d items, %zu entries, %d threads; streaming copy %.1f GB/s, "
      "multiply-add peak %.1f GFLOP/s\n",
      g_problem.users, g_problem.items, g_problem.nnz, g_problem.threads,
      g_ceilings.copy_bytes_per_s / 1e9, g_ceilings.flops_per_s / 1e9);
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
