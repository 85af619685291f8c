// The performance model of DESIGN.md section 6: the bytes a training step must move per observed
// entry, against which every throughput is reported as a fraction of the memory bandwidth.
#pragma once

namespace ppmf {

// Per entry: the four rows it reads (m_i, s_i^2, n_j, t_j^2) and the four gradient rows it adds
// into; per touched row (touched_rows_per_entry of them per entry): the lazy Adam update reads the
// two gradient rows, reads and writes mean, log-sd and their four moment rows, and writes s^2.
// Biases add two floats per row and are ignored.
inline double step_bytes_per_entry(int rank, double touched_rows_per_entry) {
  const double row = 4.0 * rank;
  return 8.0 * row + touched_rows_per_entry * 15.0 * row;
}

}  // namespace ppmf
