// The performance model of DESIGN.md section 6: the bytes a training step must move per observed
// entry, against which every throughput is reported as a fraction of the memory bandwidth.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ppmf/ratings.hpp"

namespace ppmf {

// Per entry: the four rows it reads (m_i, s_i^2, n_j, t_j^2) and the four gradient rows it adds
// into; this is all the entry kernels move.
inline double entry_bytes_per_entry(int rank) {
  return 8.0 * 4.0 * rank;
}

// Plus, per touched row (touched_rows_per_entry of them per entry): the lazy Adam update reads the
// two gradient rows, reads and writes mean, log-sd and their four moment rows, and writes s^2.
// Biases add two floats per row and are ignored.
inline double step_bytes_per_entry(int rank, double touched_rows_per_entry) {
  return entry_bytes_per_entry(rank) + touched_rows_per_entry * 15.0 * 4.0 * rank;
}

// The benchmarks' generated problem: users uniform, items Zipf-like (a squared uniform index, so
// popular items are drawn far more often), values N(3, 1); ids "0".."n-1". Pairs may repeat.
Ratings generate_bench_problem(int users, int items, size_t nnz, uint64_t seed);

// Distinct rows (users plus items) per entry in a batch of `batch` entries drawn uniformly from
// `r`: the touched_rows_per_entry of step_bytes_per_entry.
double touched_rows_per_entry(const Ratings& r, size_t batch, uint64_t seed);

}  // namespace ppmf
