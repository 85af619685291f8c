// CUDA sweep throughput (Google Benchmark, manual timing with cudaEvents around each sweep): the
// exact solves of every user row and of every item row at ranks 16..128, with L2 flushed before
// each (a 256 MiB device memset, several times the L2). Reports entries/s, GFLOP/s and the counted
// bytes (include/ppmf/perf_model.hpp) beside the device's multiply-add peak and copy bandwidth,
// both measured at start-up in the same run. `ppmf-gpu bench` measures the same without Google
// Benchmark.
//
// Usage: bench_cuda_sweep [--users N] [--items N] [--nnz N] [--device N] [benchmark flags]
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_problem.hpp"
#include "cuda_backend.hpp"
#include "ppmf/devices.hpp"
#include "ppmf/scheduler.hpp"

namespace {

BenchProblem g_problem{1000000, 100000, 20000000};
Ceilings g_ceilings;
void* g_flush = nullptr;
constexpr size_t kFlushBytes = size_t{256} << 20;

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "bench_cuda_sweep: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
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
  auto backend = ppmf::make_cuda_backend(g_problem.device);
  backend->load_model(model);
  backend->load_training(r.user, r.item, r.value);
  const int rows = side == ppmf::Side::kUsers ? model.U.n : model.V.n;
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  int rep = 0;
  for (auto _ : state) {
    check(cudaMemsetAsync(g_flush, ++rep & 0xff, kFlushBytes, nullptr), "L2 flush");
    check(cudaDeviceSynchronize(), "flush");
    check(cudaEventRecord(start, nullptr), "cudaEventRecord");
    backend->solve_rows(side, 0, rows);  // returns after its device work (it reads a flag)
    check(cudaEventRecord(stop, nullptr), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    state.SetIterationTime(ms * 1e-3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  report_sweep(state, static_cast<double>(state.iterations()), r.size(), rows, rank, g_ceilings);
}
BENCHMARK(BM_CudaSweep)
    ->ArgNames({"rank", "items"})
    ->ArgsProduct({{16, 32, 64, 128}, {0, 1}})
    ->UseManualTime()
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
  check(cudaSetDevice(g_problem.device), "cudaSetDevice");
  check(cudaMalloc(&g_flush, kFlushBytes), "cudaMalloc (L2 flush buffer)");
  {
    auto b = ppmf::make_cuda_backend(g_problem.device);
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
  cudaFree(g_flush);
  return 0;
}
