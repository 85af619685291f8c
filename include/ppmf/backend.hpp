// The interface the scheduler drives: one implementation per device (CPU threads, CUDA). A backend
// holds the guide, the optimizer state and the training entries in its own memory, and knows
// nothing of files or the command line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ppmf/entry_math.hpp"
#include "ppmf/model.hpp"
#include "ppmf/ratings.hpp"

namespace ppmf {

enum class Side { kUsers, kItems };

// Prediction targets use extended indices: 0..n-1 is a trained entity, n + g the prior of group g,
// n + n_groups the population prior (see prior_index / population_index).
struct PairIndex {
  int32_t user, item;
};

struct StepParams {
  float scale = 1.0f;  // N / |B| of the unbiased estimator
  math::AdamStep adam{};
};

// Sums over all training entries and entities, in double.
struct TrainPassStats {
  double sse_expected = 0;  // sum of E[(r - f)^2]
  double sse_mean = 0;      // sum of (r - mean)^2
  double kl_users = 0, kl_items = 0;
  size_t n = 0;
};

// Per-group sums of the guide's moments of one side, for the closed-form pooling updates.
struct GroupMoments {
  int n_groups = 0, rank = 0;
  std::vector<double> count;                                // n_groups
  std::vector<double> sum_mean, sum_sq_mean, sum_var;       // n_groups * rank
  std::vector<double> bias_sum, bias_sum_sq, bias_sum_var;  // n_groups
  void reset(int groups, int d);
};

// Gradient of the ELBO (or of its mini-batch estimate) with respect to every guide parameter,
// shaped like the guide.
struct GuideGradient {
  GuideBlock U, V;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // Copies the guide, the priors, mu0 and sigma2 in; resets the optimizer.
  virtual void load_model(const Model& model) = 0;
  // Priors and noise only (after a pooling update).
  virtual void set_priors(const Model& model) = 0;
  // Training entries in model indices (values already transformed).
  virtual void load_training(const std::vector<int32_t>& user, const std::vector<int32_t>& item,
                             const std::vector<float>& value) = 0;
  // A fresh permutation of the training entries; batches are ranges of it.
  virtual void shuffle(uint64_t seed) = 0;
  // One optimizer step on the batch perm[begin, end).
  virtual void step(size_t begin, size_t end, const StepParams& params) = 0;
  // The estimator G(B) of DESIGN.md section 3 on perm[begin, end) with the given scale, written
  // densely (zero for untouched rows). For tests and cross-backend checks, not the hot path.
  virtual void gradient(size_t begin, size_t end, float scale, GuideGradient& out) = 0;
  virtual TrainPassStats train_pass() = 0;
  virtual GroupMoments group_moments(Side side) = 0;
  virtual void predict(const PairIndex* pairs, size_t n, float* mean, float* var) = 0;
  // Predictive mean and variance (noise included) of every item for each of `users` (extended
  // indices), row-major n x items: dense scoring for recommend and ranking metrics.
  virtual void score_all_items(const int32_t* users, size_t n, float* mean, float* var) = 0;
  // Copies the guide back into the model.
  virtual void store_guide(Model& model) = 0;

  // For benchmarks: seconds per call of the entry kernels alone (residuals and likelihood
  // gradients of perm[begin, end), no optimizer), median of `repeats`; and the device's streaming
  // copy bandwidth in bytes/s (read + write), measured now.
  virtual double time_entry_kernels(size_t begin, size_t end, int repeats) = 0;
  virtual double copy_bandwidth() = 0;
  // Waits for queued device work (for timing); a no-op where work is synchronous.
  virtual void synchronize() {}
};

inline int32_t prior_index(const Model& m, Side side, int group) {
  return (side == Side::kUsers ? m.U.n : m.V.n) + group;
}
inline int32_t population_index(const Model& m, Side side) {
  return side == Side::kUsers ? m.U.n + m.user_prior.n_groups : m.V.n + m.item_prior.n_groups;
}

struct DeviceSpec {
  enum Kind { kCpu, kAuto, kGpu } kind = kAuto;
  int gpu = 0;
};
DeviceSpec parse_device(const std::string& s);

// The backend for a device request: "cpu", "auto" (a GPU if one is usable, else the CPU) or a GPU
// index. Throws Error with one clear line when the request cannot be met.
std::unique_ptr<Backend> make_backend(const DeviceSpec& device, int threads);

}  // namespace ppmf
