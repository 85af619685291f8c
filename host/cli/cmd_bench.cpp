// ppmf-gpu bench: training throughput on a generated problem, for any device, against the
// device's measured copy bandwidth and multiply-add peak.
#include <chrono>
#include <cstdio>
#include <vector>

#include "cli/common.hpp"
#include "ppmf/csv_writer.hpp"
#include "ppmf/json.hpp"
#include "ppmf/perf_model.hpp"

namespace ppmf::cli {

int cmd_bench(int argc, char** argv) {
  Args args(
      "bench", "[--users N --items N --nnz N --rank LIST] [options]",
      "Generates a problem (random users, Zipf-like item popularity) and reports for the chosen\n"
      "device and each rank: entries/s of the user sweep and of the item sweep (every row set to\n"
      "its exact posterior), their flops as a fraction of the device's measured multiply-add peak\n"
      "and their counted bytes as a fraction of its measured copy bandwidth (docs/performance.md),\n"
      "the time of a whole epoch (both sweeps, pooling, full pass, noise), and both sweeps again\n"
      "as the watch model runs them (implicit zeros: the other side's Gramian summed first).");
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
  const Ratings r = generate_bench_problem(users, items, nnz, seed_from(args));
  std::fprintf(stderr, "generated %zu entries (%d users, %d items) in %.1f s\n", nnz, users, items,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t_gen).count());

  auto backend = open_backend(args);
  std::printf("device        %s\n", backend->name().c_str());
  std::printf("problem       %d users, %d items, %zu entries\n", users, items, nnz);
  std::printf("%-5s %-11s %14s %10s %9s %10s %9s %9s\n", "rank", "sweep", "entries/s", "GFLOP/s",
              "of peak", "GB/s", "of copy", "epoch s");
  std::vector<Throughput> runs;
  for (const long long d : ranks) {
    const Throughput& b =
        runs.emplace_back(measure_throughput(*backend, r, static_cast<int>(d), repeats));
    for (const auto& [name, s] :
         {std::make_pair("users", b.user_sweep), std::make_pair("items", b.item_sweep),
          std::make_pair("watch users", b.watch_user_sweep),
          std::make_pair("watch items", b.watch_item_sweep)}) {
      if (s.seconds == 0) continue;  // no implicit zeros on this backend
      std::printf("%-5d %-11s %14.4g %10.1f %8.1f%% %10.1f %8.1f%% %9.3f\n", b.rank, name,
                  s.entries_per_s, s.flops_per_s / 1e9, 100.0 * s.flops_per_s / b.peak_flops_per_s,
                  s.bytes_per_s / 1e9, 100.0 * s.bytes_per_s / b.copy_bytes_per_s,
                  b.epoch_seconds);
    }
    std::printf("%-5d copy bandwidth %.1f GB/s, multiply-add peak %.1f GFLOP/s\n", b.rank,
                b.copy_bytes_per_s / 1e9, b.peak_flops_per_s / 1e9);
    std::fflush(stdout);
  }
  if (args.given("json")) write_text_file(args.str("json"), to_json(runs));
  return 0;
}

}  // namespace ppmf::cli
