// The interface the scheduler drives: one implementation per device (CPU threads, CUDA). A backend
// holds the guide, the priors and the training entries in its own memory, and knows nothing of
// files or the command line.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ppmf/model.hpp"

namespace ppmf {

enum class Side { kUsers, kItems };

// Prediction targets use extended indices: 0..n-1 is a trained entity, n + r the prior row r of
// its side (see prior_rows.hpp: the groups' priors, the population, new users' priors).
struct PairIndex {
  int32_t user, item;
};

// Sums over all training entries and entities, in double.
struct TrainPassStats {
  double sse_expected = 0;  // sum of E[(r - f)^2]
  double sse_mean = 0;      // sum of (r - mean)^2
  double kl_users = 0, kl_items = 0;
  size_t n = 0;
};

// Per-group sums of the guide's moments of one side over x = [u; alpha] (dim values), for the
// closed-form pooling updates. Entities without training entries are left out.
struct GroupMoments {
  int n_groups = 0, dim = 0;
  std::vector<double> count;      // n_groups
  std::vector<double> sum_mean;   // n_groups * dim: sum of E[x]
  std::vector<double> sum_outer;  // n_groups * dim * dim: sum of E[x] E[x]^T
  std::vector<double> sum_var;    // n_groups * dim: sum of Var[x] (the guide is diagonal)
  void reset(int groups, int d);
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // Copies the guide, the priors, mu0 and sigma2 in.
  virtual void load_model(const Model& model) = 0;
  // Priors and noise only (after a pooling update).
  virtual void set_priors(const Model& model) = 0;
  // Training entries in model indices (values already transformed).
  virtual void load_training(const std::vector<int32_t>& user, const std::vector<int32_t>& item,
                             const std::vector<float>& value) = 0;
  // Sets every row of `side` in [begin, end) that has training entries to its exact conditional
  // posterior given the other side's guide, its group prior and the noise: one (rank+1) x
  // (rank+1) solve per row (host/row_solver.hpp). The guide keeps each row's posterior mean and
  // marginal variances. Rows are independent, so any cut of a side into ranges gives the same
  // result as one call.
  virtual void solve_rows(Side side, int begin, int end) = 0;
  // The watch model's implicit zeros (docs/model.md, "The watch model"): with zero_weight > 0,
  // every user x item pair without an entry is an observation 0 of precision zero_weight, and
  // the loaded values are the entries' confidences c > zero_weight (an observation 1 of
  // precision c). solve_rows then adds zero_weight times the other side's second moments, summed
  // once over all its rows, to every row's system, and corrects over the row's entries only, so
  // the zeros are never materialised. 0 turns it off. Backends without it say so.
  virtual bool supports_implicit() const { return false; }
  virtual void set_implicit(float zero_weight) {
    if (zero_weight > 0) throw Error(name() + ": the watch model's implicit zeros are not implemented");
  }
  // Distributed training (scheduler.hpp): each rank holds its own users and every item, so an
  // item row's system is a sum over the ranks. row_statistics writes, for rows [begin, end) of
  // `side`, what solve_rows would sum over each row's entries on this rank, packed row after row
  // in row_statistics_size(rank) doubles: the entry count, the lower triangle of
  // sum_e E[w_e w_e^T] (row by row), then sum_e t_e w_e. solve_rows_from sets the rows to their
  // exact posterior from such statistics summed over the ranks, as solve_rows does from its own
  // (the same bits when one rank holds every entry); rows with a count of 0 are left as they are.
  virtual void row_statistics(Side side, int begin, int end, double* stats);
  virtual void solve_rows_from(Side side, int begin, int end, const double* stats);
  // The implicit zeros' share of every row's system of `side` (see set_implicit): the other
  // side's rows summed as zeros, the lower triangle then the vector as in row_statistics (no
  // count);
  // set_background makes solve_rows_from use a given one (summed over the ranks) instead.
  virtual std::vector<double> implicit_background(Side side);
  virtual void set_background(Side side, const std::vector<double>& background);
  // Guide rows [begin, end) of `side` out of and into the backend: per row, dim means, then dim
  // log-sds (dim = rank + 1, the bias last); set_rows leaves the rows as solve_rows would have.
  virtual void get_rows(Side side, int begin, int end, float* rows);
  virtual void set_rows(Side side, int begin, int end, const float* rows);
  // Replaces the entry counts that say which rows carry information (pooling sums, the KL of
  // the ELBO): in a distributed run, an item's count over every rank.
  virtual void set_entry_counts(Side side, const std::vector<int32_t>& counts);

  virtual TrainPassStats train_pass() = 0;
  virtual GroupMoments group_moments(Side side) = 0;
  virtual void predict(const PairIndex* pairs, size_t n, float* mean, float* var) = 0;
  // Predictive mean and variance (noise included) of every item for each of `users` (extended
  // indices), row-major n x items: dense scoring for recommend and ranking metrics.
  virtual void score_all_items(const int32_t* users, size_t n, float* mean, float* var) = 0;
  // Copies the guide back into the model.
  virtual void store_guide(Model& model) = 0;

  // For benchmarks, measured now: the device's streaming copy bandwidth in bytes/s (read + write)
  // and its peak rate of float32 multiply-adds in flops/s (2 per multiply-add).
  virtual double copy_bandwidth() = 0;
  virtual double peak_flops() = 0;
  // Waits for queued device work (for timing); a no-op where work is synchronous.
  virtual void synchronize() {}
};

// Doubles per row of Backend::row_statistics at `rank` (dim = rank + 1).
inline size_t row_statistics_size(int rank) {
  const size_t dim = static_cast<size_t>(rank) + 1;
  return 1 + dim * (dim + 1) / 2 + dim;
}

// Rows whose statistics a distributed sweep exchanges at once: at most `most`, and at most
// 256 MB of statistics (1.2 GB per 65,536 rows at rank 64 would be needed on the host, the device
// and every peer).
inline int statistics_rows_per_call(int rank, int most) {
  const size_t by_bytes = (size_t{256} << 20) / (row_statistics_size(rank) * sizeof(double));
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(most), by_bytes)));
}

struct DeviceSpec {
  enum Kind { kCpu, kAuto, kGpu } kind = kAuto;
  int gpu = 0;      // the GPU's index (kGpu)
  int threads = 0;  // CPU backend threads; 0 = the CPUs this process may use (affinity, quota)
};
// "cpu", "auto" or a GPU index; ConfigError("device", ...) for anything else.
DeviceSpec parse_device(const std::string& s);

// The backend for a device request: the CPU, a GPU (through the CUDA plugin), or for kAuto a GPU
// if one is usable, else the CPU. Throws ConfigError("device", ...) when a GPU was asked for and
// cannot be used. When kAuto finds a GPU it cannot use and falls back to the CPU, `note` (if
// given) receives why; it is cleared otherwise.
std::unique_ptr<Backend> make_backend(const DeviceSpec& device, std::string* note = nullptr);

}  // namespace ppmf
