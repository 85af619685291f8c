// CUDA step throughput (Google Benchmark, manual timing with cudaEvents): the fused entry kernel
// alone and a whole optimizer step, one batch per iteration with L2 flushed before each (a 256 MiB
// device memset, several times the 50 MB L2), and a whole epoch of steps. Reports entries/s, the
// bytes counted per entry, that traffic in GB/s and as a fraction of the device's copy bandwidth
// (cudaMemcpy device to device, read + write, measured at start-up in the same run).
//
// Bytes per entry: the shared performance model (include/ppmf/perf_model.hpp, DESIGN.md section 6):
// the entry kernel reads 4 rows and adds into 4 gradient rows (8 rows of 4 d bytes); a step adds,
// per touched row, the lazy Adam update (15 rows). The CUDA row kernel moves 3 rows more than that
// model counts (it reads the cached variance and writes the two accumulator rows back to zero), and
// each atomic add is a read and a write in L2: the model is the floor, not the exact traffic.
//
// Usage: bench_cuda_kernels [--users N] [--items N] [--nnz N] [--batch N] [--device N] [benchmark
// flags]
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_problem.hpp"
#include "cuda_backend.hpp"
#include "ppmf/devices.hpp"
#include "ppmf/perf_model.hpp"
#include "ppmf/scheduler.hpp"

namespace {

BenchProblem g_problem{500000, 50000, 10000000, 4096};
double g_copy_bandwidth = 0;  // bytes/s
void* g_flush = nullptr;
constexpr size_t kFlushBytes = size_t{256} << 20;

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "bench_cuda_kernels: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

void flush_l2(int rep) {
  check(cudaMemsetAsync(g_flush, rep & 0xff, kFlushBytes, nullptr), "L2 flush");
}

// The generated problem (perf_model.hpp) and its model, one per rank.
struct Data {
  ppmf::Ratings r;
  ppmf::Model model;
  double touched_per_entry = 0;
};

std::shared_ptr<Data> make_data(int rank) {
  static std::map<int, std::shared_ptr<Data>> cache;
  auto& cached = cache[rank];
  if (cached) return cached;
  auto d = std::make_shared<Data>();
  cached = d;
  d->r = ppmf::generate_bench_problem(g_problem.users, g_problem.items, g_problem.nnz, 7);
  ppmf::ModelConfig mc;
  mc.rank = rank;
  d->model = ppmf::init_model(d->r, d->r.value, mc, nullptr, nullptr, 1);
  d->touched_per_entry = ppmf::touched_rows_per_entry(d->r, g_problem.batch, 3);
  return d;
}

std::unique_ptr<ppmf::Backend> loaded_backend(const Data& d) {
  auto b = ppmf::make_cuda_backend(g_problem.device);
  b->load_model(d.model);
  b->load_training(d.r.user, d.r.item, d.r.value);
  b->shuffle(1);
  return b;
}

// The fused entry kernel alone on one batch per iteration, L2 flushed first.
void BM_CudaEntryKernel(benchmark::State& state) {
  const int rank = static_cast<int>(state.range(0));
  const auto d = make_data(rank);
  auto backend = loaded_backend(*d);
  const auto bounds = ppmf::batch_boundaries(d->r.size(), g_problem.batch);
  const size_t batches = bounds.size() - 1;
  size_t b = 0;
  double entries = 0;
  for (auto _ : state) {
    flush_l2(static_cast<int>(b));
    const double s = backend->time_entry_kernels(bounds[b], bounds[b + 1], 1);
    state.SetIterationTime(s);
    entries += static_cast<double>(bounds[b + 1] - bounds[b]);
    b = (b + 1) % batches;
  }
  report_throughput(state, entries, ppmf::entry_bytes_per_entry(rank), g_copy_bandwidth);
}

// A whole step (entry kernel + row kernel with Adam) on one batch per iteration, L2 flushed first.
void BM_CudaStep(benchmark::State& state) {
  const int rank = static_cast<int>(state.range(0));
  const auto d = make_data(rank);
  auto backend = loaded_backend(*d);
  const auto bounds = ppmf::batch_boundaries(d->r.size(), g_problem.batch);
  const size_t batches = bounds.size() - 1;
  ppmf::StepParams p;
  p.adam = {0.01f, 0.9f, 0.999f, 1e-8f, 1.f, 1.f};
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "event");
  check(cudaEventCreate(&stop), "event");
  size_t b = 0;
  double entries = 0;
  for (auto _ : state) {
    flush_l2(static_cast<int>(b));
    p.scale = static_cast<float>(d->r.size()) / static_cast<float>(bounds[b + 1] - bounds[b]);
    // The legacy default stream orders these events around the backend's (blocking) stream.
    check(cudaEventRecord(start, nullptr), "record");
    backend->step(bounds[b], bounds[b + 1], p);
    check(cudaEventRecord(stop, nullptr), "record");
    check(cudaEventSynchronize(stop), "sync");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
    state.SetIterationTime(ms * 1e-3);
    entries += static_cast<double>(bounds[b + 1] - bounds[b]);
    b = (b + 1) % batches;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  state.counters["touched/entry"] = d->touched_per_entry;
  report_throughput(state, entries, ppmf::step_bytes_per_entry(rank, d->touched_per_entry),
                    g_copy_bandwidth);
}

// A whole epoch of steps back to back (launch gaps included), as the scheduler runs them.
void BM_CudaEpoch(benchmark::State& state) {
  const int rank = static_cast<int>(state.range(0));
  const auto d = make_data(rank);
  auto backend = loaded_backend(*d);
  const auto bounds = ppmf::batch_boundaries(d->r.size(), g_problem.batch);
  ppmf::StepParams p;
  p.adam = {0.01f, 0.9f, 0.999f, 1e-8f, 1.f, 1.f};
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "event");
  check(cudaEventCreate(&stop), "event");
  uint64_t epoch = 0;
  double entries = 0;
  for (auto _ : state) {
    backend->shuffle(++epoch);
    check(cudaEventRecord(start, nullptr), "record");
    for (size_t b = 0; b + 1 < bounds.size(); ++b) {
      p.scale = static_cast<float>(d->r.size()) / static_cast<float>(bounds[b + 1] - bounds[b]);
      backend->step(bounds[b], bounds[b + 1], p);
    }
    check(cudaEventRecord(stop, nullptr), "record");
    check(cudaEventSynchronize(stop), "sync");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
    state.SetIterationTime(ms * 1e-3);
    entries += static_cast<double>(d->r.size());
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  report_throughput(state, entries, ppmf::step_bytes_per_entry(rank, d->touched_per_entry),
                    g_copy_bandwidth);
}

BENCHMARK(BM_CudaEntryKernel)
    ->Arg(16)
    ->Arg(32)
    ->Arg(64)
    ->Arg(128)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CudaStep)
    ->Arg(16)
    ->Arg(32)
    ->Arg(64)
    ->Arg(128)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CudaEpoch)
    ->Arg(32)
    ->Arg(128)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = parse_problem_flags(argc, argv, g_problem);
  std::string why;
  const auto gpus = ppmf::list_gpus(&why);
  if (gpus.empty()) {
    std::fprintf(stderr, "bench_cuda_kernels: no usable GPU (%s)\n", why.c_str());
    return 1;
  }
  check(cudaSetDevice(g_problem.device), "cudaSetDevice");
  check(cudaMalloc(&g_flush, kFlushBytes), "cudaMalloc (L2 flush buffer)");
  {
    auto b = ppmf::make_cuda_backend(g_problem.device);
    g_copy_bandwidth = b->copy_bandwidth();
  }
  std::printf(
      "problem: %d users, %d items, %zu entries, batch %zu; device %d (%s); copy %.1f GB/s\n",
      g_problem.users, g_problem.items, g_problem.nnz, g_problem.batch, g_problem.device,
      gpus[std::min<size_t>(g_problem.device, gpus.size() - 1)].name.c_str(),
      g_copy_bandwidth / 1e9);
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  cudaFree(g_flush);
  return 0;
}
