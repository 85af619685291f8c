// The given-N cold-start protocol (see coldstart.hpp).
#include "ppmf/coldstart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <unordered_map>

#include "ppmf/foldin.hpp"
#include "ppmf/predict.hpp"
#include "ppmf/scheduler.hpp"

namespace ppmf {

GivenNSplit given_n_split(const Ratings& all, const GivenNConfig& c) {
  if (c.ns.empty()) throw Error("--n needs at least one value");
  if (!(c.holdout_users > 0 && c.holdout_users < 1))
    throw Error("--holdout-users must be in (0, 1)");
  GivenNSplit split;
  split.max_n = *std::max_element(c.ns.begin(), c.ns.end());
  if (split.max_n < 0) throw Error("--n values must be >= 0");
  Rng rng(c.seed);
  std::vector<char> held(all.users.size(), 0);
  for (auto& h : held) h = rng.uniform() < c.holdout_users;
  std::vector<size_t> train_rows;
  std::vector<std::vector<size_t>> rows_of(all.users.size());
  for (size_t e = 0; e < all.size(); ++e) {
    if (held[all.user[e]])
      rows_of[all.user[e]].push_back(e);
    else
      train_rows.push_back(e);
  }
  split.train = compact(subset(all, train_rows));  // held-out ids must not linger in its id maps
  for (size_t u = 0; u < all.users.size(); ++u) {
    auto& rows = rows_of[u];
    if (!held[u] || rows.size() <= static_cast<size_t>(split.max_n)) continue;
    for (size_t k = rows.size(); k > 1; --k) std::swap(rows[k - 1], rows[rng.below(k)]);
    split.users.emplace_back(all.users.name(static_cast<int32_t>(u)));
    auto& list = split.entries.emplace_back();
    for (size_t e : rows) list.emplace_back(std::string(all.items.name(all.item[e])), all.value[e]);
  }
  if (split.users.empty())
    throw Error("given-n: no held-out user has more than " + std::to_string(split.max_n) +
                " entries");
  return split;
}

namespace {

// The table of given entries (the first n of every held-out user).
Ratings given_table(const GivenNSplit& s, int n) {
  Ratings r;
  for (size_t u = 0; u < s.users.size(); ++u) {
    const int32_t ui = r.users.insert(s.users[u]);
    for (int k = 0; k < n; ++k)
      r.push(ui, r.items.insert(s.entries[u][k].first), s.entries[u][k].second);
  }
  return r;
}

// Targets: entries after the first max_n of every held-out user (the same set for every n).
Ratings target_table(const GivenNSplit& s) {
  Ratings r;
  for (size_t u = 0; u < s.users.size(); ++u) {
    const int32_t ui = r.users.insert(s.users[u]);
    for (size_t k = static_cast<size_t>(s.max_n); k < s.entries[u].size(); ++k)
      r.push(ui, r.items.insert(s.entries[u][k].first), s.entries[u][k].second);
  }
  return r;
}

GivenNRow score_model(const std::string& name, const Model& trained, const GivenNSplit& s, int n,
                      const Ratings& targets, const GivenNConfig& c, float relevant_model_scale,
                      const GroupFile* user_groups, const GroupFile* item_groups,
                      const BackendFactory& make) {
  Model m = trained;
  fold_in_table(m, given_table(s, n), user_groups, 0);
  auto backend = make();
  backend->load_model(m);
  const Predictions p = predict_table(*backend, m, targets, user_groups, item_groups);
  MetricSums sums;
  std::vector<std::vector<int32_t>> relevant(s.users.size()), exclude(s.users.size());
  std::vector<int32_t> users(s.users.size());
  for (size_t e = 0; e < targets.size(); ++e) {
    const float y = to_model_scale(targets.value[e], m.config.transform);
    sums.add(y, p.mean[e], p.var[e]);
    const int32_t j = m.items.find(targets.items.name(targets.item[e]));
    if (y > relevant_model_scale && j >= 0) relevant[targets.user[e]].push_back(j);
  }
  for (size_t u = 0; u < s.users.size(); ++u) {
    users[u] = m.users.find(s.users[u]);
    for (int k = 0; k < n; ++k) {
      const int32_t j = m.items.find(s.entries[u][k].first);
      if (j >= 0) exclude[u].push_back(j);
    }
    std::sort(exclude[u].begin(), exclude[u].end());
    std::sort(relevant[u].begin(), relevant[u].end());
  }
  GivenNRow row;
  row.model = name;
  row.n = n;
  row.metrics = sums.finish();
  row.ranking = rank_and_score(*backend, m, users, exclude, relevant, c.k);
  return row;
}

// Item means of the training users on the model scale; unknown items get the global mean, and the
// predictive variance is the residual variance around the item means.
GivenNRow score_item_mean(const GivenNSplit& s, int n, const Ratings& targets,
                          const GivenNConfig& c, Transform t, float relevant_model_scale) {
  const Ratings& tr = s.train;
  std::vector<double> sum(tr.items.size(), 0.0), count(tr.items.size(), 0.0);
  double total = 0;
  for (size_t e = 0; e < tr.size(); ++e) {
    const double y = to_model_scale(tr.value[e], t);
    sum[tr.item[e]] += y;
    count[tr.item[e]] += 1;
    total += y;
  }
  const double global = total / std::max<size_t>(tr.size(), 1);
  double sse = 0;
  for (size_t e = 0; e < tr.size(); ++e) {
    const double d = to_model_scale(tr.value[e], t) - sum[tr.item[e]] / count[tr.item[e]];
    sse += d * d;
  }
  const double var = sse / std::max<size_t>(tr.size(), 1);
  auto item_mean = [&](std::string_view id) {
    const int32_t j = tr.items.find(id);
    return j >= 0 && count[j] > 0 ? sum[j] / count[j] : global;
  };
  // One ranking for everyone: items by mean, best first (ties by index).
  std::vector<int32_t> by_mean(tr.items.size());
  std::iota(by_mean.begin(), by_mean.end(), 0);
  std::stable_sort(by_mean.begin(), by_mean.end(),
                   [&](int32_t a, int32_t b) { return sum[a] / count[a] > sum[b] / count[b]; });
  MetricSums sums;
  std::vector<std::vector<int32_t>> relevant(s.users.size());
  for (size_t e = 0; e < targets.size(); ++e) {
    const double y = to_model_scale(targets.value[e], t);
    sums.add(y, item_mean(targets.items.name(targets.item[e])), var);
    const int32_t j = tr.items.find(targets.items.name(targets.item[e]));
    if (y > relevant_model_scale && j >= 0) relevant[targets.user[e]].push_back(j);
  }
  RankingSums rank;
  rank.k = c.k;
  for (size_t u = 0; u < s.users.size(); ++u) {
    std::vector<int32_t> given;
    for (int k = 0; k < n; ++k) given.push_back(tr.items.find(s.entries[u][k].first));
    std::vector<int32_t> top;
    for (int32_t j : by_mean) {
      if (static_cast<int>(top.size()) == c.k) break;
      if (std::find(given.begin(), given.end(), j) == given.end()) top.push_back(j);
    }
    std::sort(relevant[u].begin(), relevant[u].end());
    rank.add(top, relevant[u]);
  }
  GivenNRow row;
  row.model = "item-mean";
  row.n = n;
  row.metrics = sums.finish();
  row.ranking = rank.finish();
  return row;
}

}  // namespace

std::vector<GivenNRow> run_given_n(const GivenNSplit& split, const GivenNConfig& c,
                                   const ModelConfig& mc, const TrainConfig& tc,
                                   const GroupFile* user_groups, const GroupFile* item_groups,
                                   const BackendFactory& make) {
  const Ratings targets = target_table(split);
  std::vector<std::pair<std::string, Model>> models;
  for (bool pool : {true, false}) {
    ModelConfig config = mc;
    config.pool = pool;
    TrainInputs in;
    in.train = &split.train;
    in.user_groups = user_groups;
    in.item_groups = item_groups;
    auto backend = make();
    if (!tc.quiet)
      std::fprintf(stderr, "given-n: training the %s model\n", pool ? "pooled" : "unpooled");
    models.emplace_back(pool ? "pooled" : "unpooled", train(in, config, tc, *backend));
  }
  const Transform t = mc.transform;
  const float relevant =
      c.has_relevant ? to_model_scale(static_cast<float>(c.relevant), t) : models[0].second.mu0;
  std::vector<GivenNRow> rows;
  for (int n : c.ns) {
    for (const auto& [name, model] : models)
      rows.push_back(
          score_model(name, model, split, n, targets, c, relevant, user_groups, item_groups, make));
    rows.push_back(score_item_mean(split, n, targets, c, t, relevant));
  }
  return rows;
}

std::string format_given_n_table(const std::vector<GivenNRow>& rows) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-10s %3s %9s %8s %8s %8s %10s %8s\n", "model", "N", "entries",
                "rmse", "nll", "cover90", "recall@K", "ndcg@K");
  std::string out = buf;
  for (const auto& r : rows) {
    std::snprintf(buf, sizeof buf, "%-10s %3d %9zu %8.4f %8.4f %8.3f %10.4f %8.4f\n",
                  r.model.c_str(), r.n, r.metrics.n, r.metrics.rmse, r.metrics.nll,
                  r.metrics.coverage90, r.ranking.recall, r.ranking.ndcg);
    out += buf;
  }
  return out;
}

std::string format_given_n_json(const std::vector<GivenNRow>& rows, const GivenNSplit& split) {
  std::string out = "{\n  \"protocol\": \"given-n\",\n  \"held_out_users\": " +
                    std::to_string(split.users.size()) + ",\n  \"rows\": [";
  char buf[512];
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    std::snprintf(
        buf, sizeof buf,
        "%s\n    {\"model\": \"%s\", \"n\": %d, \"entries\": %zu, \"rmse\": %.6g, \"mae\": %.6g, "
        "\"nll\": %.6g, \"coverage90\": %.6g, \"k\": %d, \"ranked_users\": %zu, \"precision\": "
        "%.6g, "
        "\"recall\": %.6g, \"ndcg\": %.6g}",
        i ? "," : "", r.model.c_str(), r.n, r.metrics.n, r.metrics.rmse, r.metrics.mae,
        r.metrics.nll, r.metrics.coverage90, r.ranking.k, r.ranking.users, r.ranking.precision,
        r.ranking.recall, r.ranking.ndcg);
    out += buf;
  }
  return out + "\n  ]\n}\n";
}

}  // namespace ppmf
