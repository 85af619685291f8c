// The benchmarks' generated problem and the throughput measurement (perf_model.hpp).
#include "ppmf/perf_model.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "ppmf/common.hpp"
#include "ppmf/scheduler.hpp"

namespace ppmf {

double scaleout_bytes_per_rank(double items, int rank, int ranks, int user_groups) {
  const double share = (ranks - 1.0) / ranks, m = rank + 1.0;
  const double per_item = 8.0 * static_cast<double>(row_statistics_size(rank)) + 4.0 * 2 * m;
  const double pooling = 2 * 8.0 * user_groups * (m * m + 2 * m + 1);
  const double scalars = 2 * 8.0 * 16;  // noise, ELBO, held-out sums, agreements' payloads
  return share * (items * per_item + pooling + scalars);
}

double scaleout_collectives_per_epoch(double items, int rank) {
  return 2 * std::ceil(items / statistics_rows_per_call(rank, 65536)) + 2 + 8;
}

ScaleOutPrediction predict_scaleout(const ScaleOut& s) {
  ScaleOutPrediction p;
  const double P = s.ranks, m = s.rank + 1.0;
  const double flops = 2 * (s.entries / P) * sweep_flops_per_entry(s.rank) +
                       (s.users / P + s.items / P) * sweep_flops_per_row(s.rank) +
                       (s.entries / P) * 8 * m;  // the full pass: moments of every entry
  p.compute_seconds = flops / s.flops_per_s;
  p.bytes_per_rank = scaleout_bytes_per_rank(s.items, s.rank, s.ranks, s.user_groups);
  if (s.ranks > 1) {
    // The exchanges are all-to-all: a rank's bytes spread evenly over the other ranks.
    const double on_node = (std::min(s.ranks_per_node, s.ranks) - 1.0) / (P - 1);
    const double intra = p.bytes_per_rank * on_node, inter = p.bytes_per_rank - intra;
    p.comm_seconds = std::max(intra > 0 ? intra / s.intra_bytes_per_s : 0.0,
                              inter > 0 ? inter / s.inter_bytes_per_s : 0.0) +
                     scaleout_collectives_per_epoch(s.items, s.rank) * s.latency_s;
  }
  p.epoch_seconds = p.compute_seconds + p.comm_seconds;
  p.entries_per_s_per_rank = s.entries / P / p.epoch_seconds;
  return p;
}

Ratings generate_bench_problem(int users, int items, size_t nnz, uint64_t seed) {
  Ratings r;
  for (int u = 0; u < users; ++u) r.users.insert(std::to_string(u));
  for (int j = 0; j < items; ++j) r.items.insert(std::to_string(j));
  r.user.resize(nnz);
  r.item.resize(nnz);
  r.value.resize(nnz);
  Rng rng(seed);
  for (size_t k = 0; k < nnz; ++k) {
    r.user[k] = static_cast<int32_t>(rng.below(users));
    const double x = rng.uniform();
    r.item[k] = static_cast<int32_t>(x * x * items);
    r.value[k] = static_cast<float>(3.0 + rng.normal());
  }
  return r;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// `background_rows`: rows of the other side summed into the implicit zeros' Gramian (0: none).
SweepTiming time_sweep(Backend& backend, Side side, int rows, size_t entries, int rank,
                       int repeats, int background_rows = 0) {
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
  const double n = static_cast<double>(entries);
  s.entries_per_s = n / s.seconds;
  const double background = static_cast<double>(background_rows);
  s.flops_per_s = ((n + background) * sweep_flops_per_entry(rank) +
                   static_cast<double>(rows) * sweep_flops_per_row(rank)) /
                  s.seconds;
  s.bytes_per_s = (n * sweep_bytes_per_entry(rank) + background * 4.0 * 2 * (rank + 1)) / s.seconds;
  return s;
}

}  // namespace

Throughput measure_throughput(Backend& backend, const Ratings& problem, int rank, int repeats) {
  if (repeats < 1) throw ConfigError("repeats", "must be at least 1");
  ModelConfig mc;
  mc.rank = rank;
  Model model = init_model(problem, problem.value, mc, nullptr, nullptr, 1);
  backend.load_model(model);
  backend.load_training(problem.user, problem.item, problem.value);
  const TrainConfig tc;
  run_epoch(backend, model, tc);
  Throughput out;
  out.device = backend.name();
  out.rank = rank;
  out.users = model.U.n;
  out.items = model.V.n;
  out.entries = problem.size();
  out.user_sweep = time_sweep(backend, Side::kUsers, model.U.n, problem.size(), rank, repeats);
  out.item_sweep = time_sweep(backend, Side::kItems, model.V.n, problem.size(), rank, repeats);
  const auto t0 = std::chrono::steady_clock::now();
  run_epoch(backend, model, tc);
  out.epoch_seconds = seconds_since(t0);
  if (backend.supports_implicit()) {  // the watch model's loading order (scheduler: load_backend)
    backend.store_guide(model);
    backend.load_model(model);
    backend.set_implicit(8.0f);
    backend.load_training(problem.user, problem.item, std::vector<float>(problem.size(), 40.0f));
    out.watch_user_sweep =
        time_sweep(backend, Side::kUsers, model.U.n, problem.size(), rank, repeats, model.V.n);
    out.watch_item_sweep =
        time_sweep(backend, Side::kItems, model.V.n, problem.size(), rank, repeats, model.U.n);
    backend.set_implicit(0.0f);
  }
  out.copy_bytes_per_s = backend.copy_bandwidth();
  out.peak_flops_per_s = backend.peak_flops();
  return out;
}

}  // namespace ppmf
