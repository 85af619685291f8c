// Shapes and defaults of the model's parts, and the parsers of model enums.
#include "ppmf/model.hpp"

#include <algorithm>

#include "ppmf/backend.hpp"
#include "ppmf/common.hpp"

namespace ppmf {

Transform parse_transform(const std::string& s) {
  if (s == "none") return Transform::kNone;
  if (s == "log1p") return Transform::kLog1p;
  throw Error("unknown --transform '" + s + "' (expected none|log1p)");
}

const char* to_string(Transform t) {
  return t == Transform::kLog1p ? "log1p" : "none";
}

void GuideBlock::resize(int count, int d) {
  n = count;
  rank = d;
  stride = padded_stride(d);
  mean.assign(static_cast<size_t>(n) * stride, 0.f);
  logsd.assign(static_cast<size_t>(n) * stride, 0.f);
  bias_mean.assign(n, 0.f);
  bias_logsd.assign(n, 0.f);
}

void PriorBlock::reset(int groups, int d) {
  n_groups = groups;
  rank = d;
  mean.assign(static_cast<size_t>(groups) * d, 0.f);
  prec.assign(static_cast<size_t>(groups) * d, 1.f);
  bias_mean.assign(groups, 0.f);
  bias_prec.assign(groups, 1.f);
  pop_mean.assign(d, 0.f);
  pop_bias_mean = 0.f;
}

void PriorBlock::population(float tau, std::vector<float>& mean_out, std::vector<float>& var_out,
                            float& bias_mean_out, float& bias_var_out) const {
  // A new group's mean is drawn around M_0 with variance tau^2; its members scatter with the
  // groups' typical within-group variance. With a single group the population is that group.
  const float between = n_groups > 1 ? tau * tau : 0.f;
  mean_out.assign(pop_mean.begin(), pop_mean.end());
  var_out.assign(rank, 0.f);
  double bias_within = 0;
  for (int g = 0; g < n_groups; ++g) {
    for (int k = 0; k < rank; ++k) var_out[k] += 1.0f / prec[static_cast<size_t>(g) * rank + k];
    bias_within += 1.0 / bias_prec[g];
  }
  for (int k = 0; k < rank; ++k) var_out[k] = var_out[k] / std::max(n_groups, 1) + between;
  bias_mean_out = pop_bias_mean;
  bias_var_out = static_cast<float>(bias_within / std::max(n_groups, 1)) + between;
}

int Groups::find(const std::string& name) const {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

int ensure_group(Model& model, bool users, const std::string& name) {
  Groups& groups = users ? model.user_groups : model.item_groups;
  PriorBlock& p = users ? model.user_prior : model.item_prior;
  const int found = groups.find(name);
  if (found >= 0) return found;
  std::vector<float> mean, var;
  float bias_mean, bias_var;
  p.population(model.config.tau, mean, var, bias_mean, bias_var);
  groups.names.push_back(name);
  for (int k = 0; k < p.rank; ++k) {
    p.mean.push_back(mean[k]);
    p.prec.push_back(1.0f / var[k]);
  }
  p.bias_mean.push_back(bias_mean);
  p.bias_prec.push_back(1.0f / bias_var);
  ++p.n_groups;
  return p.n_groups - 1;
}

void set_seen(Model& model, const std::vector<std::vector<int32_t>>& per_user) {
  model.seen_offsets.assign(1, 0);
  model.seen_items.clear();
  for (const auto& items : per_user) {
    model.seen_items.insert(model.seen_items.end(), items.begin(), items.end());
    model.seen_offsets.push_back(model.seen_items.size());
  }
}

std::vector<std::vector<int32_t>> seen_lists(const Model& model) {
  std::vector<std::vector<int32_t>> out(model.seen_offsets.size() - 1);
  for (size_t u = 0; u < out.size(); ++u)
    out[u].assign(model.seen_items.begin() + static_cast<long>(model.seen_offsets[u]),
                  model.seen_items.begin() + static_cast<long>(model.seen_offsets[u + 1]));
  return out;
}

void GroupMoments::reset(int groups, int d) {
  n_groups = groups;
  rank = d;
  count.assign(groups, 0.0);
  for (auto* v : {&sum_mean, &sum_sq_mean, &sum_var})
    v->assign(static_cast<size_t>(groups) * d, 0.0);
  for (auto* v : {&bias_sum, &bias_sum_sq, &bias_sum_var}) v->assign(groups, 0.0);
}

}  // namespace ppmf
