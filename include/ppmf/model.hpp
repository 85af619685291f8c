// The trained model: id maps, groups, the mean-field Gaussian guide of every user and item, the
// pooled priors (hyperparameters), the size-biased priors of new users and the training history.
// Host memory only; backends copy it in and out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ppmf/common.hpp"
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

// Pooled priors of one side over x = [u; alpha] (dim = rank + 1 values, the bias last): a member
// of group g has x ~ N(mean_g, cov_g) with a full covariance (factors and bias may correlate), and
// the group means are drawn around the population mean, mean_g ~ N(pop_mean, tau^2 I).
struct PriorBlock {
  int n_groups = 0, rank = 0;
  std::vector<float> mean;      // n_groups * dim
  std::vector<float> cov;       // n_groups * dim * dim, symmetric, row-major
  std::vector<float> pop_mean;  // dim (M_0)

  int dim() const { return rank + 1; }
  const float* mean_of(int g) const { return mean.data() + static_cast<size_t>(g) * dim(); }
  const float* cov_of(int g) const {
    return cov.data() + static_cast<size_t>(g) * dim() * dim();
  }
  void reset(int groups, int d);  // N(0, I) everywhere
  void append(const std::vector<double>& group_mean, const std::vector<double>& group_cov);
  // Prior of an entity of unknown group: N(M_0, average group covariance + tau^2 I), the tau^2
  // term only when there are several groups (with one group the population is that group).
  void population(float tau, std::vector<double>& mean_out, std::vector<double>& cov_out) const;
};

// The size-biased prior means of new users: for a new user of group g with n entries so far, the
// mean of g's trained members that have more than n entries, each weighted by (its count - n). It
// is the prior mean under the weighting the user's future entries will be judged by (heavier users
// make most of them). The covariance stays the group's. Cells where fewer than
// kMinSizeBiasedMembers members qualify hold the plain group mean.
struct NewUserPrior {
  int groups = 0;           // user groups when it was computed (groups added later have no rows)
  int max_n = -1;           // rows n = 0..max_n; -1: none (models from older versions)
  std::vector<float> mean;  // (groups + 1) * (max_n + 1) * dim; row `groups` = the population
  // The mean for `group` (-1: the population) after n entries, or nullptr when there is none.
  const float* mean_of(int group, int n, int dim) const;
};
constexpr int kMinSizeBiasedMembers = 30;

// Entity -> group assignment of one side.
struct Groups {
  std::vector<std::string> names;  // group names; a model without a group file has {"all"}
  std::vector<int32_t> of;         // group index per entity
  bool from_file = false;          // false: the single implicit group is the population
  int find(const std::string& name) const;
};

struct EpochMetrics {
  int epoch = 0;
  double elbo_per_entry = 0, train_rmse = 0, sigma = 0;
  bool has_valid = false, has_test = false;
  double valid_rmse = 0, valid_nll = 0;  // the validation split: stopping and choices
  double test_rmse = 0, test_nll = 0;    // --test: reported only
  double entries_per_s = 0, seconds = 0;
};

// The watch part (see WatchConfig): a guide and pooled priors of its own over the same ids and
// groups, x = [u; alpha] per user and [v; beta] per item, with watch score alpha + beta + u . v.
struct WatchPart {
  bool present = false;  // false: a model without one (trained with it off, or an older file)
  WatchConfig config;    // as trained: rank resolved
  GuideBlock U, V;
  PriorBlock user_prior, item_prior;
};

struct Model {
  ModelConfig config;
  IdMap users, items;
  Groups user_groups, item_groups;
  std::vector<int32_t> user_count, item_count;  // training entries per entity
  GuideBlock U, V;
  PriorBlock user_prior, item_prior;
  NewUserPrior new_users;
  float mu0 = 0.0f;     // global mean on the model scale
  float sigma2 = 1.0f;  // noise variance
  size_t n_train = 0;
  // Items each user has seen (training entries, plus fold-in), CSR by user, sorted within a user;
  // recommend excludes them.
  std::vector<uint64_t> seen_offsets{0};
  std::vector<int32_t> seen_items;
  std::vector<EpochMetrics> history;
  int best_epoch = 0;
  WatchPart watch;

  int rank() const { return config.rank; }
  int dim() const { return config.rank + 1; }
};

// Index of group `name` on one side, appending it with the population prior when it is new (a new
// acquisition channel, or "default" for ids of unknown group).
int ensure_group(Model& model, bool users, const std::string& name);

// A read-only run of item indices.
struct ItemList {
  const int32_t* first = nullptr;
  const int32_t* last = nullptr;
  const int32_t* begin() const { return first; }
  const int32_t* end() const { return last; }
  size_t size() const { return static_cast<size_t>(last - first); }
  bool empty() const { return first == last; }
};

// The items `user` has seen, sorted; empty for a prior row (an extended index >= model.U.n).
ItemList seen_items_of(const Model& model, int32_t user);

// Replaces the seen lists with those of `per_user` (one sorted, de-duplicated list per user index).
void set_seen(Model& model, const std::vector<std::vector<int32_t>>& per_user);
std::vector<std::vector<int32_t>> seen_lists(const Model& model);

// Recomputes model.new_users from the trained user guide and the training counts.
void compute_new_user_prior(Model& model);

}  // namespace ppmf
