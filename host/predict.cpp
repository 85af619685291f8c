// Predictive moments for tables of pairs (CPU glue around Backend::predict).
#include "ppmf/predict.hpp"

#include <cmath>

namespace ppmf {

float to_model_scale(float raw, Transform t) {
  if (t == Transform::kNone) return raw;
  if (!(raw > -1.0f))
    throw Error("value " + std::to_string(raw) + " is out of range for log1p (needs > -1)");
  return std::log1p(raw);
}

void to_original_scale(Transform t, double mean, double var, double& mean_out, double& sd_out) {
  if (t == Transform::kNone) {
    mean_out = mean;
    sd_out = std::sqrt(var);
    return;
  }
  // y = log1p(x) ~ N(mean, var): x + 1 is log-normal.
  mean_out = std::exp(mean + 0.5 * var) - 1.0;
  sd_out = std::sqrt(std::expm1(var)) * std::exp(mean + 0.5 * var);
}

Predictions predict_table(Backend& backend, const Model& model, const Ratings& table,
                          const GroupFile* user_groups, const GroupFile* item_groups,
                          bool plain_user_prior) {
  ResolvedPairs resolved = resolve_pairs(model, table, user_groups, item_groups, plain_user_prior);
  Predictions p;
  p.mean.resize(table.size());
  p.var.resize(table.size());
  if (table.size() > 0)
    backend.predict(resolved.index.data(), table.size(), p.mean.data(), p.var.data());
  p.source = std::move(resolved.source);
  p.user_index.resize(table.size());
  for (size_t k = 0; k < table.size(); ++k) p.user_index[k] = resolved.index[k].user;
  return p;
}

}  // namespace ppmf
