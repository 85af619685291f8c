// CUDA sweep throughput (Google Benchmark): the exact solves of every user row and of every item
// row at ranks 16..128, each sweep timed from its start to the end of its device work (a sweep
// waits for its kernels), on a problem far larger than the L2 cache. Reports entries/s, GFLOP/s and
// the counted bytes (include/ppmf/perf_model.hpp) beside the device's multiply-add peak and copy
// bandwidth, both measured at start-up in the same run. `ppmf-gpu bench` measures the same without
// Google Benchmark.
//
// Usage: bench_cuda_sweep [--users N] [--items N] [--nnz N] [--device N] [benchmark flags]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "bench_problem.hpp"
#include "ppmf/backend.hpp"
#include "ppmf/devices.hpp"
#include "ppmf/scheduler.hpp"

namespace {

BenchProblem g_problem{1000000, 100000, 20000000};
Ceilings g_ceilings;

std::unique_ptr<ppmf::Backend> gpu() {
  return ppmf::make_backend({ppmf::DeviceSpec::kGpu, g_problem.device});
}

// The generated problem, once.
const ppmf::Ratings& problem() {
  static const ppmf::Ratings r = ppmf::compact(
      ppmf::generate_bench_problem(g_problem.users, g_problem.items, g_problem.nnz, 7));
  return r;
}

void BM_CudaSweep(benchmark::State& state) {
  const int rank = static_cast<int>(state.range(0));
  const ppmf::Side side = state.range(1) == 0 ? ppmf::Side::kUsers : ppmf::Side::kItems;
  const ppmf::Ratings& r = problem();
  ppmf::ModelConfig mc;
  mc.rank = rank;
  const ppmf::Model model = ppmf::init_model(r, r.value, mc, nullptr, nullptr, 1);
  auto backend = gpu();
  backend->load_model(model);
  backend->load_training(r.user, r.item, r.value);
  const int rows = side == ppmf::Side::kUsers ? model.U.n : model.V.n;
  backend->solve_rows(side, 0, rows);  // warm-up
  for (auto _ : state) {
    backend->solve_rows(side, 0, rows);
    backend->synchronize();
  }
  report_sweep(state, static_cast<double>(state.iterations()), r.size(), rows, rank, g_ceilings);
}
BENCHMARK(BM_CudaSweep)
    ->ArgNames({"rank", "items"})
    ->ArgsProduct({{16, 32, 64, 128}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = parse_problem_flags(argc, argv, g_problem);
  std::string why;
  const auto gpus = ppmf::list_gpus(&why);
  if (gpus.empty()) {
    std::fprintf(stderr, "bench_cuda_sweep: no usable GPU (%s)\n", why.c_str());
    return 1;
  }
  {
    auto b = gpu();
    g_ceilings = {b->copy_bandwidth(), b->peak_flops()};
  }
  std::printf("problem: %d users, %d items, %zu entries; device %d (%s); copy %.1f GB/s, "
              "multiply-add peak %.1f GFLOP/s\n",
              g_problem.users, g_problem.items, g_problem.nnz, g_problem.device,
              gpus[std::min<size_t>(g_problem.device, gpus.size() - 1)].name.c_str(),
              g_ceilings.copy_bytes_per_s / 1e9, g_ceilings.flops_per_s / 1e9);
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
