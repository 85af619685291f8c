// The training loop, once for every backend: epochs over fresh permutations cut into near-equal
// batches, the learning-rate schedule, pooling and noise updates, held-out evaluation, early
// stopping with restore of the best epoch, and per-epoch logging.
#pragma once

#include "ppmf/backend.hpp"
#include "ppmf/config.hpp"
#include "ppmf/model.hpp"
#include "ppmf/reader.hpp"

namespace ppmf {

struct TrainInputs {
  const Ratings* train = nullptr;  // raw values (the model's transform is applied here)
  const Ratings* test = nullptr;   // optional held-out entries, raw values, any ids
  const GroupFile* user_groups = nullptr;
  const GroupFile* item_groups = nullptr;
  // Start from this model: known users and items from their posteriors, new ones from their group
  // prior, hyperparameters and noise as the starting point, no pooling warm-up.
  const Model* warm_start = nullptr;
};

// Builds the initial model of `inputs.train`: ids, groups, counts, mu0, sigma^2 and a random guide.
Model init_model(const Ratings& train_compact, const std::vector<float>& model_values,
                 const ModelConfig& config, const GroupFile* user_groups,
                 const GroupFile* item_groups, uint64_t seed);

// Moves `old`'s posteriors and hyperparameters into `fresh` (a model from init_model) by id and
// group name; see TrainInputs::warm_start. Throws if rank or transform differ.
void warm_start_from(const Model& old, Model& fresh);

Model train(const TrainInputs& inputs, const ModelConfig& config, const TrainConfig& train_config,
            Backend& backend);

// The near-equal cut of n entries into batches of at most batch_size (0 = one batch):
// boundaries[b] .. boundaries[b+1].
std::vector<size_t> batch_boundaries(size_t n, size_t batch_size);

}  // namespace ppmf
