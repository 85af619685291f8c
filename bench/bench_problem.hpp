// What the Google Benchmark binaries share: the generated-problem flags (--users, --items, --nnz,
// --batch, --threads for the CPU, --device for the GPU; every other argument is left for Google
// Benchmark) and the counters every case reports.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct BenchProblem {
  int users, items;
  size_t nnz, batch;
  int threads = 0, device = 0;
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
    else if (a == "--batch")
      p.batch = static_cast<size_t>(next());
    else if (a == "--threads")
      p.threads = static_cast<int>(next());
    else if (a == "--device")
      p.device = static_cast<int>(next());
    else
      rest.push_back(argv[k]);
  }
  return rest;
}

// entries/s, bytes per entry (counted), the bandwidth they imply, and the measured copy bandwidth.
inline void report_throughput(benchmark::State& state, double entries, double bytes_per_entry,
                              double copy_bandwidth) {
  state.counters["entries/s"] = benchmark::Counter(entries, benchmark::Counter::kIsRate);
  state.counters["bytes/entry"] = bytes_per_entry;
  state.counters["GB/s"] =
      benchmark::Counter(entries * bytes_per_entry / 1e9, benchmark::Counter::kIsRate);
  state.counters["copy_GB/s"] = copy_bandwidth / 1e9;
  state.SetItemsProcessed(static_cast<int64_t>(entries));
  state.SetBytesProcessed(static_cast<int64_t>(entries * bytes_per_entry));
}
