// The performance model of an exact sweep (docs/performance.md): the bytes an epoch must move and
// the floating-point work it must do per observed entry and per row, against which every
// throughput is reported as a fraction of the device's measured copy bandwidth and FMA peak; and
// the measurement itself (ppmf-gpu bench).
#pragma once

#include <cstddef>
#include <cstdint>

#include <string>

#include "ppmf/backend.hpp"
#include "ppmf/ratings.hpp"

namespace ppmf {

// Per entry and side of a sweep: the counterpart's mean and variance rows (2 dim floats) and the
// entry itself (counterpart index and value). Rows are read at random; this is what the
// accumulation must fetch.
inline double sweep_bytes_per_entry(int rank) {
  return 4.0 * (2.0 * (rank + 1) + 2.0);
}

// Per entry and side: the lower triangle of the rank-1 update w w^T (dim (dim + 1) / 2 multiply-
// adds) and t w (dim), counted as 2 flops per multiply-add.
inline double sweep_flops_per_entry(int rank) {
  const double m = rank + 1;
  return m * (m + 1) + 2 * m;
}

// Per solved row: Cholesky (m^3 / 3), the diagonal of the inverse (m^3 / 3) and two triangular
// solves (2 m^2), in flops.
inline double sweep_flops_per_row(int rank) {
  const double m = rank + 1;
  return 2.0 * m * m * m / 3.0 + 2.0 * m * m;
}

// Distributed training (docs/performance.md, "Across ranks"). Per epoch every rank sends, for
// (P - 1) / P of the items: their statistics (8 x row_statistics_size bytes, reduce-scatter) and
// their solved rows (4 x 2 dim bytes, all-gather); plus the user pooling sums (8 x (dim^2 +
// 2 dim + 1) per user group, reduce-scatter and all-gather) and a few scalars. Users never move.
double scaleout_bytes_per_rank(double items, int rank, int ranks, int user_groups = 1);
// Collectives per epoch: two per range of items (statistics, rows; statistics_rows_per_call),
// two for the user-group sums, a few for scalar sums; each opens with an agreement (a
// latency-bound allreduce).
double scaleout_collectives_per_epoch(double items, int rank);

struct ScaleOut {
  double entries = 0, users = 0, items = 0;
  int rank = 32, ranks = 1, user_groups = 1;
  int ranks_per_node = 1;            // ranks that share a node's fast links
  double flops_per_s = 0;            // one rank's sustained rate on the sweeps' arithmetic
  double intra_bytes_per_s = 0;      // per rank, to ranks on its node (NVLink, shared memory)
  double inter_bytes_per_s = 0;      // per rank, to other nodes (its share of the node's NICs)
  double latency_s = 0;              // per collective
};

struct ScaleOutPrediction {
  double compute_seconds = 0;  // both sweeps' accumulations and solves, the full pass
  double comm_seconds = 0;     // the epoch's collectives (not overlapped with compute)
  double epoch_seconds = 0;
  double bytes_per_rank = 0;
  double entries_per_s_per_rank = 0;  // entries / P / epoch_seconds
};

// An epoch on P ranks: each rank sweeps entries / P from each side (sweep_flops_per_entry),
// solves users / P + items / P rows, and moves scaleout_bytes_per_rank, its intra- and inter-node
// shares at their own rates (concurrently), plus the collectives' latency.
ScaleOutPrediction predict_scaleout(const ScaleOut& s);

// The benchmarks' generated problem: users uniform, items Zipf-like (a squared uniform index, so
// popular items are drawn far more often), values N(3, 1); ids "0".."n-1". Pairs may repeat.
Ratings generate_bench_problem(int users, int items, size_t nnz, uint64_t seed);

// One timed sweep, against the performance model above.
struct SweepTiming {
  double seconds = 0, entries_per_s = 0, flops_per_s = 0, bytes_per_s = 0;
};

struct Throughput {
  std::string device;
  int rank = 0, users = 0, items = 0;
  size_t entries = 0;
  SweepTiming user_sweep, item_sweep;  // medians of the timed sweeps
  // The same sweeps with the watch model's implicit zeros: each also sums the Gramian of the other
  // side (one more rank-1 term per row of it); zeros where the backend has no implicit zeros.
  SweepTiming watch_user_sweep, watch_item_sweep;
  double epoch_seconds = 0;            // one whole epoch: both sweeps, pooling, full pass, noise
  double copy_bytes_per_s = 0, peak_flops_per_s = 0;  // the device's, measured in the same run
};

// Times a rank-`rank` model of `problem` on `backend`: one warm-up epoch (first-touch allocations,
// a realistic guide), then `repeats` sweeps of each side (the median kept) and one whole epoch;
// then, as the watch model trains (every entry a view of confidence 40 against zeros of weight 8),
// `repeats` sweeps of each side again.
Throughput measure_throughput(Backend& backend, const Ratings& problem, int rank, int repeats);

}  // namespace ppmf
