// What the Google Benchmark binaries share: the generated-problem flags (--users, --items, --nnz,
// --threads for the CPU, --device for the GPU; every other argument is left for Google Benchmark)
// and the counters every sweep case reports.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ppmf/perf_model.hpp"

struct BenchProblem {
  int users, items;
  size_t nnz;
  int threads = 0, device = 0;
};

// The device's measured ceilings.
struct Ceilings {
  double copy_bytes_per_s = 0, flops_per_s = 0;
};

// Consumes the problem flags into `p`; returns argv without them.
inline std::vector<char*> parse_problem_flags(int argc, char** argv, BenchProblem& p) {
  std::vector<char*> rest{argv[0]};
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    auto next = [&]() { return k + 1 < argc ? std::stoll(argv[++k]) : 0LL; };
    if (a == "--users")
      p.users = static_cast<int>(next());
    else if (a == "--items")
      p.items = static_cast<int>(next());
    else if (a == "--nnz")
      p.nnz = static_cast<size_t>(next());
    else if (a == "--threads")
      p.threads = static_cast<int>(next());
    else if (a == "--device")
      p.device = static_cast<int>(next());
    else
      rest.push_back(argv[k]);
  }
  return rest;
}

// entries/s of `sweeps` sweeps over `nnz` entries and `rows` rows, their flops and counted bytes
// (include/ppmf/perf_model.hpp), and those as fractions of the measured ceilings.
inline void report_sweep(benchmark::State& state, double sweeps, size_t nnz, int rows, int rank,
                         const Ceilings& c) {
  const double entries = sweeps * static_cast<double>(nnz);
  const double flops = entries * ppmf::sweep_flops_per_entry(rank) +
                       sweeps * rows * ppmf::sweep_flops_per_row(rank);
  const double bytes = entries * ppmf::sweep_bytes_per_entry(rank);
  state.counters["entries/s"] = benchmark::Counter(entries, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsRate);
  state.counters["peak_GFLOP/s"] = c.flops_per_s / 1e9;
  state.counters["copy_GB/s"] = c.copy_bytes_per_s / 1e9;
  state.SetItemsProcessed(static_cast<int64_t>(entries));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
