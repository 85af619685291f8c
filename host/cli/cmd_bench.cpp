// ppmf-gpu bench: training throughput on a generated problem, for any device, against the
// device's measured copy bandwidth and multiply-add peak.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "cli/common.hpp"
#include "ppmf/csv_writer.hpp"
#include "ppmf/perf_model.hpp"
#include "ppmf/scheduler.hpp"

namespace ppmf::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

struct SweepTiming {
  double seconds = 0, entries_per_s = 0, flops_per_s = 0, bytes_per_s = 0;
};

struct BenchResult {
  int rank = 0;
  SweepTiming users, items;
  double epoch_s = 0, copy = 0, peak = 0;
};

// Median of `repeats` timed sweeps of one side.
SweepTiming time_sweep(Backend& backend, Side side, int rows, size_t nnz, int rank, int repeats) {
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    backend.synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    backend.solve_rows(side, 0, rows);
    backend.synchronize();
    t.push_back(seconds_since(t0));
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  SweepTiming s;
  s.seconds = t[t.size() / 2];
  s.entries_per_s = static_cast<double>(nnz) / s.seconds;
  s.flops_per_s = (static_cast<double>(nnz) * sweep_flops_per_entry(rank) +
                   static_cast<double>(rows) * sweep_flops_per_row(rank)) /
                  s.seconds;
  s.bytes_per_s = static_cast<double>(nnz) * sweep_bytes_per_entry(rank) / s.seconds;
  return s;
}

BenchResult bench_rank(const Args& args, const Ratings& r, int rank, int repeats) {
  ModelConfig mc;
  mc.rank = rank;
  Model model = init_model(r, r.value, mc, nullptr, nullptr, 1);
  auto backend = open_backend(args);
  backend->load_model(model);
  backend->load_training(r.user, r.item, r.value);
  BenchResult out;
  out.rank = rank;
  TrainConfig tc;
  tc.quiet = true;
  run_epoch(*backend, model, tc);  // warm-up: first-touch allocations, a realistic guide
  out.users = time_sweep(*backend, Side::kUsers, model.U.n, r.size(), rank, repeats);
  out.items = time_sweep(*backend, Side::kItems, model.V.n, r.size(), rank, repeats);
  const auto t0 = std::chrono::steady_clock::now();
  run_epoch(*backend, model, tc);
  out.epoch_s = seconds_since(t0);
  out.copy = backend->copy_bandwidth();
  out.peak = backend->peak_flops();
  return out;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  Args args(
      "bench", "[--users N --items N --nnz N --rank LIST] [options]",
      "Generates a problem (random users, Zipf-like item popularity) and reports for the chosen\n"
      "device and each rank: entries/s of the user sweep and of the item sweep (every row set to\n"
      "its exact posterior), their flops as a fraction of the device's measured multiply-add peak\n"
      "and their counted bytes as a fraction of its measured copy bandwidth (docs/performance.md),\n"
      "and the time of a whole epoch (both sweeps, pooling, full pass, noise).");
  args.option("users", "1000000", "users", "N")
      .option("items", "100000", "items", "N")
      .option("nnz", "10000000", "observed entries", "N")
      .option("rank", "32", "rank d, or a comma-separated list (the data are generated once)",
              "LIST")
      .option("repeats", "3", "timed sweeps per side (the median is reported)", "N")
      .option("seed", "1", "seed of the generated problem", "S")
      .option("json", "", "write the results as JSON (a list, one object per rank)", "FILE");
  add_device_options(args, "auto");
  if (!args.parse(argc, argv)) return 0;
  const int users = static_cast<int>(args.integer("users", 1, 2000000000));
  const int items = static_cast<int>(args.integer("items", 1, 2000000000));
  const size_t nnz = static_cast<size_t>(args.integer("nnz", 1, (1LL << 32) - 1));
  const int repeats = static_cast<int>(args.integer("repeats", 1, 1000));
  const std::vector<long long> ranks = args.integer_list("rank", 0, kMaxRank);

  const auto t_gen = std::chrono::steady_clock::now();
  const Ratings r = generate_bench_problem(
      users, items, nnz, static_cast<uint64_t>(args.integer("seed", 0, 1LL << 62)));
  std::fprintf(stderr, "generated %zu entries (%d users, %d items) in %.1f s\n", nnz, users, items,
               seconds_since(t_gen));

  std::printf("device        %s\n", open_backend(args)->name().c_str());
  std::printf("problem       %d users, %d items, %zu entries\n", users, items, nnz);
  std::printf("%-5s %-11s %14s %10s %9s %10s %9s %9s\n", "rank", "sweep", "entries/s", "GFLOP/s",
              "of peak", "GB/s", "of copy", "epoch s");
  std::string json = "[";
  for (const long long d : ranks) {
    const int rank = static_cast<int>(d);
    const BenchResult b = bench_rank(args, r, rank, repeats);
    for (const auto& [name, s] : {std::make_pair("users", b.users), std::make_pair("items", b.items)})
      std::printf("%-5d %-11s %14.4g %10.1f %8.1f%% %10.1f %8.1f%% %9.3f\n", rank, name,
                  s.entries_per_s, s.flops_per_s / 1e9, 100.0 * s.flops_per_s / b.peak,
                  s.bytes_per_s / 1e9, 100.0 * s.bytes_per_s / b.copy, b.epoch_s);
    std::printf("%-5d copy bandwidth %.1f GB/s, multiply-add peak %.1f GFLOP/s\n", rank,
                b.copy / 1e9, b.peak / 1e9);
    char buf[1024];
    std::snprintf(
        buf, sizeof buf,
        "%s\n  {\"rank\": %d, \"users\": %d, \"items\": %d, \"nnz\": %zu, "
        "\"copy_bytes_per_s\": %.6g, \"peak_flops_per_s\": %.6g, "
        "\"user_sweep_seconds\": %.6g, \"user_sweep_entries_per_s\": %.6g, "
        "\"user_sweep_flops_per_s\": %.6g, \"item_sweep_seconds\": %.6g, "
        "\"item_sweep_entries_per_s\": %.6g, \"item_sweep_flops_per_s\": %.6g, "
        "\"epoch_seconds\": %.6g}",
        json.size() > 1 ? "," : "", rank, users, items, nnz, b.copy, b.peak, b.users.seconds,
        b.users.entries_per_s, b.users.flops_per_s, b.items.seconds, b.items.entries_per_s,
        b.items.flops_per_s, b.epoch_s);
    json += buf;
    std::fflush(stdout);
  }
  if (args.given("json")) write_text_file(args.str("json"), json + "\n]\n");
  return 0;
}

}  // namespace ppmf::cli
