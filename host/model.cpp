// Shapes and defaults of the model's parts, and the size-biased prior of new users.
#include "ppmf/model.hpp"

#include <algorithm>

#include "ppmf/backend.hpp"
#include "ppmf/common.hpp"

namespace ppmf {

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
  const size_t m = static_cast<size_t>(dim());
  mean.assign(groups * m, 0.f);
  cov.assign(groups * m * m, 0.f);
  for (int g = 0; g < groups; ++g)
    for (size_t k = 0; k < m; ++k) cov[(g * m + k) * m + k] = 1.f;
  pop_mean.assign(m, 0.f);
}

void PriorBlock::append(const std::vector<double>& group_mean,
                        const std::vector<double>& group_cov) {
  mean.insert(mean.end(), group_mean.begin(), group_mean.end());
  cov.insert(cov.end(), group_cov.begin(), group_cov.end());
  ++n_groups;
}

void PriorBlock::population(float tau, std::vector<double>& mean_out,
                            std::vector<double>& cov_out) const {
  // A new group's mean is drawn around M_0 with variance tau^2; its members scatter with the
  // groups' average covariance.
  const size_t m = static_cast<size_t>(dim());
  mean_out.assign(pop_mean.begin(), pop_mean.end());
  cov_out.assign(m * m, 0.0);
  for (int g = 0; g < n_groups; ++g)
    for (size_t k = 0; k < m * m; ++k) cov_out[k] += cov[g * m * m + k];
  const double between = n_groups > 1 ? static_cast<double>(tau) * tau : 0.0;
  for (size_t k = 0; k < m * m; ++k) cov_out[k] /= std::max(n_groups, 1);
  for (size_t k = 0; k < m; ++k) cov_out[k * m + k] += between;
}

const float* NewUserPrior::mean_of(int group, int n, int dim) const {
  if (max_n < 0 || n < 0 || n > max_n || group >= groups) return nullptr;
  const size_t row = static_cast<size_t>(group < 0 ? groups : group);
  return mean.data() + (row * (max_n + 1) + static_cast<size_t>(n)) * dim;
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
  std::vector<double> mean, cov;
  p.population(model.config.tau, mean, cov);
  groups.names.push_back(name);
  p.append(mean, cov);
  if (model.watch.present) {  // the watch part has a prior per group too
    PriorBlock& w = users ? model.watch.user_prior : model.watch.item_prior;
    w.population(model.config.tau, mean, cov);
    w.append(mean, cov);
  }
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

ItemList seen_items_of(const Model& model, int32_t user) {
  if (user < 0 || static_cast<size_t>(user) + 1 >= model.seen_offsets.size()) return {};
  const int32_t* base = model.seen_items.data();
  return {base + model.seen_offsets[user], base + model.seen_offsets[user + 1]};
}

std::vector<std::vector<int32_t>> seen_lists(const Model& model) {
  std::vector<std::vector<int32_t>> out(model.seen_offsets.size() - 1);
  for (size_t u = 0; u < out.size(); ++u) {
    const ItemList seen = seen_items_of(model, static_cast<int32_t>(u));
    out[u].assign(seen.begin(), seen.end());
  }
  return out;
}

void compute_new_user_prior(Model& model) {
  const int G = model.user_prior.n_groups, dim = model.dim(), d = model.rank();
  const GuideBlock& U = model.U;
  // Rows up to the largest n at which some group (or the population) still has enough members.
  std::vector<int32_t> counts;
  for (int i = 0; i < U.n; ++i)
    if (model.user_count[i] > 0) counts.push_back(model.user_count[i]);
  std::sort(counts.begin(), counts.end(), std::greater<>());
  // Past ~100 entries a user's own data outweigh any prior mean, so the table stops there.
  constexpr int kLargestN = 100;
  const int max_n = counts.size() >= static_cast<size_t>(kMinSizeBiasedMembers)
                        ? std::min(counts[kMinSizeBiasedMembers - 1] - 1, kLargestN)
                        : -1;
  NewUserPrior& out = model.new_users;
  out.groups = G;
  out.max_n = max_n;
  out.mean.clear();
  if (max_n < 0) return;
  // For each group (and the population, row G) and n: sum_i (c_i - n) x_i / sum_i (c_i - n) over
  // members with c_i > n; the plain group (or population) mean where fewer qualify.
  const size_t rows = static_cast<size_t>(G + 1) * (max_n + 1);
  std::vector<double> sum(rows * dim, 0.0), weight(rows, 0.0);
  std::vector<int> members(rows, 0);
  std::vector<double> x(dim);
  for (int i = 0; i < U.n; ++i) {
    const int c = model.user_count[i];
    if (c == 0) continue;
    for (int k = 0; k < d; ++k) x[k] = U.mean[static_cast<size_t>(i) * U.stride + k];
    x[d] = U.bias_mean[i];
    for (const int g : {static_cast<int>(model.user_groups.of[i]), G}) {
      for (int n = 0; n <= max_n && n < c; ++n) {
        const size_t row = static_cast<size_t>(g) * (max_n + 1) + n;
        const double w = c - n;
        for (int k = 0; k < dim; ++k) sum[row * dim + k] += w * x[k];
        weight[row] += w;
        ++members[row];
      }
    }
  }
  std::vector<double> pop_mean, pop_cov;
  model.user_prior.population(model.config.tau, pop_mean, pop_cov);
  out.mean.resize(rows * dim);
  for (int g = 0; g <= G; ++g)
    for (int n = 0; n <= max_n; ++n) {
      const size_t row = static_cast<size_t>(g) * (max_n + 1) + n;
      for (int k = 0; k < dim; ++k)
        out.mean[row * dim + k] =
            members[row] >= kMinSizeBiasedMembers
                ? static_cast<float>(sum[row * dim + k] / weight[row])
                : (g < G ? model.user_prior.mean_of(g)[k] : static_cast<float>(pop_mean[k]));
    }
}

void GroupMoments::reset(int groups, int d) {
  n_groups = groups;
  dim = d;
  count.assign(groups, 0.0);
  sum_mean.assign(static_cast<size_t>(groups) * d, 0.0);
  sum_outer.assign(static_cast<size_t>(groups) * d * d, 0.0);
  sum_var.assign(static_cast<size_t>(groups) * d, 0.0);
}

}  // namespace ppmf
