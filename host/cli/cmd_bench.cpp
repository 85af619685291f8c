// ppmf-gpu bench: training-step throughput on a generated problem, for any device, against the
// device's measured copy bandwidth.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <unordered_set>

#include "cli/common.hpp"
#include "ppmf/csv_writer.hpp"
#include "ppmf/perf_model.hpp"
#include "ppmf/scheduler.hpp"

namespace ppmf::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  Args args(
      "bench", "[--users N --items N --nnz N --rank D] [options]",
      "Generates a problem (random users, Zipf-like item popularity) and reports for the chosen\n"
      "device: entries/s of the entry kernels alone, of whole optimizer steps, and of a whole\n"
      "epoch (shuffle, steps, full pass, pooling moments); the bytes a step moves per entry\n"
      "(counted, DESIGN.md section 6) and the achieved bandwidth as a fraction of the device's\n"
      "copy bandwidth, measured in the same run.");
  args.option("users", "1000000", "users", "N")
      .option("items", "100000", "items", "N")
      .option("nnz", "10000000", "observed entries", "N")
      .option("rank", "32", "rank d", "D")
      .option("batch-size", "262144", "entries per step", "N")
      .option("seed", "1", "seed of the generated problem", "S")
      .option("json", "", "write the results as JSON", "FILE");
  add_device_options(args, "auto");
  if (!args.parse(argc, argv)) return 0;
  const int users = static_cast<int>(args.integer("users", 1, 2000000000));
  const int items = static_cast<int>(args.integer("items", 1, 2000000000));
  const size_t nnz = static_cast<size_t>(args.integer("nnz", 1, 1LL << 40));
  const size_t batch = static_cast<size_t>(args.integer("batch-size", 1, 1LL << 40));
  ModelConfig mc;
  mc.rank = static_cast<int>(args.integer("rank", 0, 1024));

  const auto t_gen = std::chrono::steady_clock::now();
  Ratings r;
  for (int u = 0; u < users; ++u) r.users.insert(std::to_string(u));
  for (int j = 0; j < items; ++j) r.items.insert(std::to_string(j));
  r.user.resize(nnz);
  r.item.resize(nnz);
  r.value.resize(nnz);
  Rng rng(static_cast<uint64_t>(args.integer("seed", 0, 1LL << 62)));
  for (size_t k = 0; k < nnz; ++k) {
    r.user[k] = static_cast<int32_t>(rng.below(users));
    const double x = rng.uniform();  // squared uniform: popular items drawn far more often
    r.item[k] = static_cast<int32_t>(x * x * items);
    r.value[k] = static_cast<float>(3.0 + rng.normal());
  }
  const Model model = init_model(r, r.value, mc, nullptr, nullptr, 1);
  std::fprintf(stderr, "generated %zu entries (%d users, %d items) in %.1f s\n", nnz, users, items,
               seconds_since(t_gen));

  auto backend = open_backend(args);
  backend->load_model(model);
  backend->load_training(r.user, r.item, r.value);
  const auto bounds = batch_boundaries(nnz, batch);
  const size_t batches = bounds.size() - 1;
  StepParams p;
  p.adam = {0.01f, 0.9f, 0.999f, 1e-8f, 1.f, 1.f};
  p.scale = static_cast<float>(static_cast<double>(nnz) / (bounds[1] - bounds[0]));

  // Rows touched per entry in a batch (sampled), for the byte count.
  std::unordered_set<int32_t> su, si;
  for (size_t k = 0; k < bounds[1]; ++k) {
    const size_t at = rng.below(nnz);
    su.insert(r.user[at]);
    si.insert(r.item[at]);
  }
  const double touched = static_cast<double>(su.size() + si.size()) / bounds[1];
  const double bytes = step_bytes_per_entry(mc.rank, touched);

  backend->shuffle(1);
  for (size_t b = 0; b < std::min<size_t>(batches, 3); ++b)
    backend->step(bounds[b], bounds[b + 1], p);  // warm-up
  const double kernel_s = backend->time_entry_kernels(bounds[0], bounds[1], 10);
  const size_t steps = std::min<size_t>(batches, 20);
  auto t0 = std::chrono::steady_clock::now();
  for (size_t b = 0; b < steps; ++b) backend->step(bounds[b], bounds[b + 1], p);
  backend->synchronize();
  const double steps_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  backend->shuffle(2);
  for (size_t b = 0; b < batches; ++b) backend->step(bounds[b], bounds[b + 1], p);
  backend->train_pass();
  backend->group_moments(Side::kUsers);
  backend->group_moments(Side::kItems);
  backend->synchronize();
  const double epoch_s = seconds_since(t0);
  const double copy = backend->copy_bandwidth();

  const double kernel_rate = (bounds[1] - bounds[0]) / kernel_s;
  const double step_rate = static_cast<double>(bounds[steps]) / steps_s;
  const double epoch_rate = static_cast<double>(nnz) / epoch_s;
  std::printf("device        %s\n", backend->name().c_str());
  std::printf(
      "problem       %d users, %d items, %zu entries, rank %d, batch %zu (%zu steps/epoch)\n",
      users, items, nnz, mc.rank, bounds[1] - bounds[0], batches);
  std::printf("bytes/entry   %.0f (%.2f rows touched per entry)\n", bytes, touched);
  std::printf("copy          %.1f GB/s\n", copy / 1e9);
  std::printf("%-13s %14s %12s %10s\n", "", "entries/s", "GB/s", "of copy");
  for (const auto& [name, rate, b] :
       {std::make_tuple("entry kernel", kernel_rate, 8.0 * 4.0 * mc.rank),
        std::make_tuple("step", step_rate, bytes), std::make_tuple("epoch", epoch_rate, bytes)})
    std::printf("%-13s %14.4g %12.1f %9.1f%%\n", name, rate, rate * b / 1e9,
                100.0 * rate * b / copy);
  std::printf("epoch time    %.3f s\n", epoch_s);
  if (args.given("json")) {
    char buf[1024];
    std::snprintf(
        buf, sizeof buf,
        "{\"device\": \"%s\", \"users\": %d, \"items\": %d, \"nnz\": %zu, \"rank\": %d, \"batch\": "
        "%zu, "
        "\"bytes_per_entry\": %.1f, \"copy_bytes_per_s\": %.6g, \"kernel_entries_per_s\": %.6g, "
        "\"step_entries_per_s\": %.6g, \"epoch_entries_per_s\": %.6g, \"epoch_seconds\": %.6g, "
        "\"step_fraction_of_copy\": %.4f}\n",
        backend->name().c_str(), users, items, nnz, mc.rank, bounds[1] - bounds[0], bytes, copy,
        kernel_rate, step_rate, epoch_rate, epoch_s, step_rate * bytes / copy);
    write_text_file(args.str("json"), buf);
  }
  return 0;
}

}  // namespace ppmf::cli
