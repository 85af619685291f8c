// ppmf-gpu bench: training-step throughput on a generated problem, for any device, against the
// device's measured copy bandwidth.
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

struct BenchResult {
  int rank;
  double bytes, kernel_rate, step_rate, epoch_rate, epoch_s, copy;
};

BenchResult bench_rank(const Args& args, const Ratings& r, int rank,
                       const std::vector<size_t>& bounds, double touched) {
  ModelConfig mc;
  mc.rank = rank;
  const Model model = init_model(r, r.value, mc, nullptr, nullptr, 1);
  auto backend = open_backend(args);
  backend->load_model(model);
  backend->load_training(r.user, r.item, r.value);
  const size_t nnz = r.size(), batches = bounds.size() - 1;
  StepParams p;
  p.adam = {0.01f, 0.9f, 0.999f, 1e-8f, 1.f, 1.f};
  p.scale = static_cast<float>(static_cast<double>(nnz) / (bounds[1] - bounds[0]));

  backend->shuffle(1);
  for (size_t b = 0; b < std::min<size_t>(batches, 3); ++b)
    backend->step(bounds[b], bounds[b + 1], p);  // warm-up
  BenchResult out{};
  out.rank = rank;
  out.bytes = step_bytes_per_entry(rank, touched);
  out.kernel_rate = (bounds[1] - bounds[0]) / backend->time_entry_kernels(bounds[0], bounds[1], 10);
  const size_t steps = std::min<size_t>(batches, 20);
  auto t0 = std::chrono::steady_clock::now();
  for (size_t b = 0; b < steps; ++b) backend->step(bounds[b], bounds[b + 1], p);
  backend->synchronize();
  out.step_rate = static_cast<double>(bounds[steps]) / seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  backend->shuffle(2);
  for (size_t b = 0; b < batches; ++b) backend->step(bounds[b], bounds[b + 1], p);
  backend->train_pass();
  backend->group_moments(Side::kUsers);
  backend->group_moments(Side::kItems);
  backend->synchronize();
  out.epoch_s = seconds_since(t0);
  out.epoch_rate = static_cast<double>(nnz) / out.epoch_s;
  out.copy = backend->copy_bandwidth();
  return out;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  Args args(
      "bench", "[--users N --items N --nnz N --rank LIST] [options]",
      "Generates a problem (random users, Zipf-like item popularity) and reports for the chosen\n"
      "device and each rank: entries/s of the entry kernels alone, of whole optimizer steps, and\n"
      "of a whole epoch (shuffle, steps, full pass, pooling moments); the bytes a step moves per\n"
      "entry (counted, DESIGN.md section 6) and the achieved bandwidth as a fraction of the\n"
      "device's copy bandwidth, measured in the same run.");
  args.option("users", "1000000", "users", "N")
      .option("items", "100000", "items", "N")
      .option("nnz", "10000000", "observed entries", "N")
      .option("rank", "32", "rank d, or a comma-separated list (the data are generated once)",
              "LIST")
      .option("batch-size", "262144", "entries per step", "N")
      .option("seed", "1", "seed of the generated problem", "S")
      .option("json", "", "write the results as JSON (a list, one object per rank)", "FILE");
  add_device_options(args, "auto");
  if (!args.parse(argc, argv)) return 0;
  const int users = static_cast<int>(args.integer("users", 1, 2000000000));
  const int items = static_cast<int>(args.integer("items", 1, 2000000000));
  const size_t nnz = static_cast<size_t>(args.integer("nnz", 1, (1LL << 32) - 1));
  const size_t batch = static_cast<size_t>(args.integer("batch-size", 1, 1LL << 40));
  const std::vector<long long> ranks = args.integer_list("rank", 0, 1024);

  const auto t_gen = std::chrono::steady_clock::now();
  const Ratings r = generate_bench_problem(
      users, items, nnz, static_cast<uint64_t>(args.integer("seed", 0, 1LL << 62)));
  const auto bounds = batch_boundaries(nnz, batch);
  const double touched = touched_rows_per_entry(r, bounds[1] - bounds[0], 5);
  std::fprintf(stderr, "generated %zu entries (%d users, %d items) in %.1f s\n", nnz, users, items,
               seconds_since(t_gen));

  std::printf("device        %s\n", open_backend(args)->name().c_str());
  std::printf(
      "problem       %d users, %d items, %zu entries, batch %zu (%zu steps/epoch), %.2f rows "
      "touched per entry\n",
      users, items, nnz, bounds[1] - bounds[0], bounds.size() - 1, touched);
  std::printf("%-5s %-13s %14s %12s %10s %11s %9s\n", "rank", "", "entries/s", "GB/s", "of copy",
              "bytes/entry", "epoch s");
  std::string json = "[";
  for (const long long d : ranks) {
    const int rank = static_cast<int>(d);
    const BenchResult b = bench_rank(args, r, rank, bounds, touched);
    for (const auto& [name, rate, bytes] :
         {std::make_tuple("entry kernel", b.kernel_rate, entry_bytes_per_entry(rank)),
          std::make_tuple("step", b.step_rate, b.bytes),
          std::make_tuple("epoch", b.epoch_rate, b.bytes)})
      std::printf("%-5d %-13s %14.4g %12.1f %9.1f%% %11.0f %9.3f\n", rank, name, rate,
                  rate * bytes / 1e9, 100.0 * rate * bytes / b.copy, bytes, b.epoch_s);
    std::printf("%-5d copy bandwidth %.1f GB/s\n", rank, b.copy / 1e9);
    char buf[768];
    std::snprintf(
        buf, sizeof buf,
        "%s\n  {\"rank\": %d, \"users\": %d, \"items\": %d, \"nnz\": %zu, \"batch\": %zu, "
        "\"bytes_per_entry\": %.1f, \"copy_bytes_per_s\": %.6g, \"kernel_entries_per_s\": %.6g, "
        "\"step_entries_per_s\": %.6g, \"epoch_entries_per_s\": %.6g, \"epoch_seconds\": %.6g, "
        "\"step_fraction_of_copy\": %.4f}",
        json.size() > 1 ? "," : "", rank, users, items, nnz, bounds[1] - bounds[0], b.bytes, b.copy,
        b.kernel_rate, b.step_rate, b.epoch_rate, b.epoch_s, b.step_rate * b.bytes / b.copy);
    json += buf;
    std::fflush(stdout);
  }
  if (args.given("json")) write_text_file(args.str("json"), json + "\n]\n");
  return 0;
}

}  // namespace ppmf::cli
