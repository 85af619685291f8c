// The trained model: id maps, groups, the mean-field Gaussian guide of every user and item, the
// pooled priors (hyperparameters) and the training history. Host memory only; backends copy it in
// and out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ppmf/config.hpp"
#include "ppmf/id_map.hpp"

namespace ppmf {

// Guide parameters of one side (users or items): q(u_i) = N(mean_i, diag(exp(2 logsd_i))),
// q(alpha_i) = N(bias_mean_i, exp(2 bias_logsd_i)). Rows are `stride` floats, padding kept at 0.
struct GuideBlock {
  int n = 0, rank = 0, stride = 0;
  std::vector<float> mean, logsd;
  std::vector<float> bias_mean, bias_logsd;

  void resize(int count, int d);
  const float* mean_row(int32_t i) const { return mean.data() + static_cast<size_t>(i) * stride; }
  const float* logsd_row(int32_t i) const { return logsd.data() + static_cast<size_t>(i) * stride; }
};

// Pooled priors of one side: group g has u ~ N(mean_g, diag(1/prec_g)), alpha ~ N(bias_mean_g,
// 1/bias_prec_g); group means ~ N(pop_mean, tau^2). Group 0.. n_groups-1, rows of `rank` floats.
struct PriorBlock {
  int n_groups = 0, rank = 0;
  std::vector<float> mean, prec;            // n_groups * rank
  std::vector<float> bias_mean, bias_prec;  // n_groups
  std::vector<float> pop_mean;              // rank (M_0)
  float pop_bias_mean = 0.0f;

  void reset(int groups, int d);  // N(0, 1) everywhere
  // Prior of an entity of unknown group: N(M_0, tau^2 + average 1/L over groups).
  void population(float tau, std::vector<float>& mean_out, std::vector<float>& var_out,
                  float& bias_mean_out, float& bias_var_out) const;
};

// Entity -> group assignment of one side.
struct Groups {
  std::vector<std::string> names;  // group names; a model without a group file has {"all"}
  std::vector<int32_t> of;         // group index per entity
  bool from_file = false;          // false: the single implicit group is the population
  int find(const std::string& name) const;
};

struct EpochMetrics {
  int epoch = 0;
  double elbo_per_entry = 0, train_rmse = 0, test_rmse = 0, test_nll = 0, sigma = 0;
  double entries_per_s = 0, seconds = 0;
  bool has_test = false;
};

struct Model {
  ModelConfig config;
  IdMap users, items;
  Groups user_groups, item_groups;
  std::vector<int32_t> user_count, item_count;  // training entries per entity
  GuideBlock U, V;
  PriorBlock user_prior, item_prior;
  float mu0 = 0.0f;     // global mean on the model scale
  float sigma2 = 1.0f;  // noise variance
  size_t n_train = 0;
  // Items each user has seen (training entries, plus fold-in), CSR by user, sorted within a user;
  // recommend excludes them.
  std::vector<uint64_t> seen_offsets{0};
  std::vector<int32_t> seen_items;
  std::vector<EpochMetrics> history;
  int best_epoch = 0;

  int rank() const { return config.rank; }
};

// Index of group `name` on one side, appending it with the population prior when it is new (a new
// acquisition channel, or "default" for ids of unknown group).
int ensure_group(Model& model, bool users, const std::string& name);

// Replaces the seen lists with those of `per_user` (one sorted, de-duplicated list per user index).
void set_seen(Model& model, const std::vector<std::vector<int32_t>>& per_user);
std::vector<std::vector<int32_t>> seen_lists(const Model& model);

}  // namespace ppmf
