// The training loop, once for every backend: epochs of exact sweeps (every user row, then every
// item row, each set to its exact conditional posterior), the pooling and noise updates, the
// validation split and early stopping with restore of the best epoch, held-out reporting, and
// per-epoch logging.
#pragma once

#include <functional>

#include "ppmf/backend.hpp"
#include "ppmf/config.hpp"
#include "ppmf/model.hpp"
#include "ppmf/reader.hpp"

namespace ppmf {

struct TrainInputs {
  const Ratings* train = nullptr;  // raw values (the model's transform is applied here)
  const Ratings* test = nullptr;   // optional held-out entries, raw values, any ids: reported only
  const GroupFile* user_groups = nullptr;
  const GroupFile* item_groups = nullptr;
  // Start from this model: known users and items from their posteriors, new ones from their group
  // prior, hyperparameters and noise as the starting point.
  const Model* warm_start = nullptr;
};

// Builds the initial model of a compacted training table: ids, groups, counts, mu0, sigma^2 and a
// random guide.
Model init_model(const Ratings& train_compact, const std::vector<float>& model_values,
                 const ModelConfig& config, const GroupFile* user_groups,
                 const GroupFile* item_groups, uint64_t seed);

// Moves `old`'s posteriors and hyperparameters into `fresh` (a model from init_model) by id and
// group name; see TrainInputs::warm_start. Throws if rank or transform differ.
void warm_start_from(const Model& old, Model& fresh);

Model train(const TrainInputs& inputs, const ModelConfig& config, const TrainConfig& train_config,
            Backend& backend);

// One epoch on a loaded backend: the user sweep and the item sweep (each followed by its pooling
// update when the model pools), then a full pass and the noise update; `model` carries the priors
// and noise and receives the new ones. Returns the epoch's training metrics (ELBO, train RMSE,
// sigma, speed); `progress(done, total)` is called between row ranges.
using SweepProgress = std::function<void(size_t rows_done, size_t rows_total)>;
EpochMetrics run_epoch(Backend& backend, Model& model, const TrainConfig& train_config,
                       const SweepProgress& progress = {});

}  // namespace ppmf
