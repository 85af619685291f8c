// Predictive distributions for (user, item) pairs of any table, with the value transform undone
// where asked.
#pragma once

#include <vector>

#include "ppmf/backend.hpp"
#include "ppmf/groups.hpp"
#include "ppmf/model.hpp"

namespace ppmf {

// The model-scale value of a raw observation; throws for values the transform cannot take.
float to_model_scale(float raw, Transform t);
// Moments on the original scale of a model-scale N(mean, var): with log1p, of exp(y) - 1.
void to_original_scale(Transform t, double mean, double var, double& mean_out, double& sd_out);

struct Predictions {
  std::vector<float> mean, var;  // model scale, predictive (noise included)
  std::vector<Source> source;
  std::vector<int32_t> user_index;  // extended user index per entry (for bucketing)
};

// Unknown users are predicted from the size-biased prior of a new user unless `plain_user_prior`
// (see resolve_pairs).
Predictions predict_table(Backend& backend, const Model& model, const Ratings& table,
                          const GroupFile* user_groups, const GroupFile* item_groups,
                          bool plain_user_prior = false);

}  // namespace ppmf
