// The given-N cold-start protocol (see coldstart.hpp).
#include "ppmf/coldstart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "ppmf/foldin.hpp"
#include "ppmf/predict.hpp"
#include "ppmf/scheduler.hpp"

namespace ppmf {

const char* to_string(GivenNTargets t) {
  return t == GivenNTargets::kAfterN ? "after-n" : "fixed";
}

GivenNSplit given_n_split(const Ratings& all, const GivenNConfig& c) {
  if (c.ns.empty()) throw Error("given-n needs at least one N");
  if (!(c.holdout_users > 0 && c.holdout_users < 1))
    throw Error("the held-out user fraction must be in (0, 1)");
  GivenNSplit split;
  split.min_n = *std::min_element(c.ns.begin(), c.ns.end());
  split.max_n = *std::max_element(c.ns.begin(), c.ns.end());
  if (split.min_n < 0) throw Error("given-n: N must be >= 0");
  split.by_time = !all.time.empty();
  const uint64_t salt = splitmix64(c.seed ^ 0x676976656e2d6eULL);
  std::vector<char> held(all.users.size(), 0);
  std::vector<uint64_t> user_hash(all.users.size());
  for (size_t u = 0; u < held.size(); ++u) {
    user_hash[u] = hash_id(all.users.name(static_cast<int32_t>(u)));
    held[u] = hash_fraction(splitmix64(user_hash[u] ^ salt)) < c.holdout_users;
  }
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
    if (!held[u] || rows.size() <= static_cast<size_t>(split.min_n)) continue;
    if (split.by_time) {
      std::stable_sort(rows.begin(), rows.end(),
                       [&](size_t a, size_t b) { return all.time[a] < all.time[b]; });
    } else {
      Rng rng(splitmix64(user_hash[u] + salt));
      for (size_t k = rows.size(); k > 1; --k) std::swap(rows[k - 1], rows[rng.below(k)]);
    }
    split.users.emplace_back(all.users.name(static_cast<int32_t>(u)));
    auto& list = split.entries.emplace_back();
    for (const size_t e : rows)
      list.emplace_back(std::string(all.items.name(all.item[e])), all.value[e]);
  }
  if (split.users.empty())
    throw Error("given-n: no held-out user has more than " + std::to_string(split.min_n) +
                " entries");
  return split;
}

namespace {

// Which held-out users are scored at N under a target rule, and from which of their entries on.
struct Scored {
  std::vector<size_t> users;  // indices into split.users
  size_t first_target = 0;    // entries[first_target..] are the targets (after-n: N)
};
Scored scored_users(const GivenNSplit& s, int n, GivenNTargets t) {
  Scored out;
  out.first_target = static_cast<size_t>(t == GivenNTargets::kAfterN ? n : s.max_n);
  for (size_t u = 0; u < s.users.size(); ++u)
    if (s.entries[u].size() > out.first_target) out.users.push_back(u);
  return out;
}

// The first n entries of every held-out user with more than n.
Ratings given_table(const GivenNSplit& s, int n) {
  Ratings r;
  for (size_t u = 0; u < s.users.size(); ++u) {
    if (s.entries[u].size() <= static_cast<size_t>(n)) continue;
    const int32_t ui = r.users.insert(s.users[u]);
    for (int k = 0; k < n; ++k)
      r.push(ui, r.items.insert(s.entries[u][k].first), s.entries[u][k].second);
  }
  return r;
}

// Scores predictions (and top-k lists) for one model, one N and one target rule. `predict(table)`
// gives the model's predictions of a table's pairs; `rank(users, exclude, relevant)` its ranking
// metrics.
template <class Predict, class Rank>
GivenNRow score(const std::string& name, const GivenNSplit& s, int n, GivenNTargets t,
                Transform transform, float relevant_threshold, const IdMap& items,
                const Predict& predict, const Rank& rank) {
  const Scored sc = scored_users(s, n, t);
  Ratings targets;
  for (const size_t u : sc.users) {
    const int32_t ui = targets.users.insert(s.users[u]);
    for (size_t k = sc.first_target; k < s.entries[u].size(); ++k)
      targets.push(ui, targets.items.insert(s.entries[u][k].first), s.entries[u][k].second);
  }
  const Predictions p = predict(targets);
  MetricSums sums;
  std::vector<std::vector<int32_t>> relevant(sc.users.size()), exclude(sc.users.size());
  for (size_t e = 0; e < targets.size(); ++e) {
    const float y = to_model_scale(targets.value[e], transform);
    sums.add(y, p.mean[e], p.var[e]);
    const int32_t j = items.find(targets.items.name(targets.item[e]));
    if (y > relevant_threshold && j >= 0) relevant[targets.user[e]].push_back(j);
  }
  for (size_t r = 0; r < sc.users.size(); ++r) {
    for (int k = 0; k < n; ++k) {
      const int32_t j = items.find(s.entries[sc.users[r]][k].first);
      if (j >= 0) exclude[r].push_back(j);
    }
    std::sort(exclude[r].begin(), exclude[r].end());
    std::sort(relevant[r].begin(), relevant[r].end());
  }
  GivenNRow row;
  row.model = name;
  row.targets = t;
  row.n = n;
  row.users = sc.users.size();
  row.metrics = sums.finish();
  row.ranking = rank(sc.users, exclude, relevant);
  return row;
}

// The item-mean baseline on the model scale: (sum + 5 * global mean) / (count + 5) over the
// training users' entries of the item (the global mean for an item they never saw), with the
// residual variance of the training entries around those means as its predictive variance.
struct ItemMeans {
  IdMap items;
  std::vector<double> mean;
  double global = 0, var = 1;
  std::vector<int32_t> by_mean;  // item indices, best first (ties by index)

  ItemMeans(const Ratings& tr, Transform t) : items(tr.items) {
    constexpr double kPrior = 5;
    std::vector<double> sum(tr.items.size(), 0.0), count(tr.items.size(), 0.0);
    double total = 0;
    for (size_t e = 0; e < tr.size(); ++e) {
      const double y = to_model_scale(tr.value[e], t);
      sum[tr.item[e]] += y;
      count[tr.item[e]] += 1;
      total += y;
    }
    global = total / std::max<size_t>(tr.size(), 1);
    mean.resize(sum.size());
    for (size_t j = 0; j < sum.size(); ++j) mean[j] = (sum[j] + kPrior * global) / (count[j] + kPrior);
    double sse = 0;
    for (size_t e = 0; e < tr.size(); ++e) {
      const double d = to_model_scale(tr.value[e], t) - mean[tr.item[e]];
      sse += d * d;
    }
    var = sse / std::max<size_t>(tr.size(), 1);
    by_mean.resize(mean.size());
    std::iota(by_mean.begin(), by_mean.end(), 0);
    std::stable_sort(by_mean.begin(), by_mean.end(),
                     [&](int32_t a, int32_t b) { return mean[a] > mean[b]; });
  }
  Predictions predict(const Ratings& table) const {
    Predictions p;
    for (size_t e = 0; e < table.size(); ++e) {
      const int32_t j = items.find(table.items.name(table.item[e]));
      p.mean.push_back(static_cast<float>(j >= 0 ? mean[j] : global));
      p.var.push_back(static_cast<float>(var));
    }
    return p;
  }
  RankingMetrics rank(size_t users, const std::vector<std::vector<int32_t>>& exclude,
                      const std::vector<std::vector<int32_t>>& relevant, int k) const {
    RankingSums sums;
    sums.k = k;
    for (size_t u = 0; u < users; ++u) {
      std::vector<int32_t> top;
      for (const int32_t j : by_mean) {
        if (static_cast<int>(top.size()) == k) break;
        if (!std::binary_search(exclude[u].begin(), exclude[u].end(), j)) top.push_back(j);
      }
      sums.add(top, relevant[u]);
    }
    return sums.finish();
  }
};

}  // namespace

std::vector<GivenNRow> run_given_n(const GivenNSplit& split, const GivenNConfig& c,
                                   const ModelConfig& mc, const TrainConfig& tc,
                                   const GroupFile* user_groups, const GroupFile* item_groups,
                                   const BackendFactory& make) {
  struct Trained {
    std::string name;
    Model model;
    bool plain;  // new users start from the plain prior
  };
  std::vector<Trained> models;
  for (const bool pool : {true, false}) {
    ModelConfig config = mc;
    config.pool = pool;
    TrainInputs in;
    in.train = &split.train;
    in.user_groups = user_groups;
    in.item_groups = item_groups;
    auto backend = make();
    if (!tc.quiet)
      std::fprintf(stderr, "given-n: training the %s model\n", pool ? "pooled" : "unpooled");
    Model m = train(in, config, tc, *backend);
    if (pool) models.push_back({"pooled-plain", m, true});
    // The unpooled baseline has no learned population to bias towards: plain N(0, I) priors.
    models.push_back({pool ? "pooled" : "unpooled", std::move(m), !pool});
  }
  std::swap(models[0], models[1]);  // pooled, pooled-plain, unpooled
  const Transform t = mc.transform;
  const float relevant = c.has_relevant ? to_model_scale(static_cast<float>(c.relevant), t)
                                        : models[0].model.mu0;
  const ItemMeans item_mean(split.train, t);
  std::vector<GivenNRow> rows;
  for (const int n : c.ns) {
    for (const Trained& tm : models) {
      Model m = tm.model;
      FoldInOptions fold;
      fold.plain_prior = tm.plain;
      if (n > 0) fold_in_table(m, given_table(split, n), user_groups, fold);
      auto backend = make();
      backend->load_model(m);
      const auto predict = [&](const Ratings& targets) {
        return predict_table(*backend, m, targets, user_groups, item_groups, tm.plain);
      };
      for (const GivenNTargets rule : {GivenNTargets::kAfterN, GivenNTargets::kFixed}) {
        const auto rank = [&](const std::vector<size_t>& users,
                              const std::vector<std::vector<int32_t>>& exclude,
                              const std::vector<std::vector<int32_t>>& rel) {
          // Held-out users are folded-in rows after N > 0 entries, prior rows at N = 0.
          Ratings who;
          for (const size_t u : users) who.push(who.users.insert(split.users[u]), 0, 0.f);
          who.items.insert("");
          const ResolvedPairs r = resolve_pairs(m, who, user_groups, nullptr, tm.plain);
          std::vector<int32_t> rows_of(users.size());
          for (size_t k = 0; k < users.size(); ++k) rows_of[k] = r.index[k].user;
          return rank_and_score(*backend, m, rows_of, exclude, rel, c.k);
        };
        rows.push_back(score(tm.name, split, n, rule, t, relevant, m.items, predict, rank));
      }
    }
    for (const GivenNTargets rule : {GivenNTargets::kAfterN, GivenNTargets::kFixed}) {
      const auto rank = [&](const std::vector<size_t>& users,
                            const std::vector<std::vector<int32_t>>& exclude,
                            const std::vector<std::vector<int32_t>>& rel) {
        return item_mean.rank(users.size(), exclude, rel, c.k);
      };
      rows.push_back(score("item-mean", split, n, rule, t, relevant, split.train.items,
                           [&](const Ratings& targets) { return item_mean.predict(targets); },
                           rank));
    }
  }
  return rows;
}

std::string format_given_n_table(const std::vector<GivenNRow>& rows) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-13s %-8s %3s %6s %9s %8s %8s %8s %10s %8s\n", "model",
                "targets", "N", "users", "entries", "rmse", "nll", "cover90", "recall@K", "ndcg@K");
  std::string out = buf;
  for (const auto& r : rows) {
    std::snprintf(buf, sizeof buf, "%-13s %-8s %3d %6zu %9zu %8.4f %8.4f %8.3f %10.4f %8.4f\n",
                  r.model.c_str(), to_string(r.targets), r.n, r.users, r.metrics.n, r.metrics.rmse,
                  r.metrics.nll, r.metrics.coverage90, r.ranking.recall, r.ranking.ndcg);
    out += buf;
  }
  return out;
}

std::string format_given_n_json(const std::vector<GivenNRow>& rows, const GivenNSplit& split) {
  std::string out = "{\n  \"protocol\": \"given-n\",\n  \"held_out_users\": " +
                    std::to_string(split.users.size()) + ",\n  \"by_time\": " +
                    (split.by_time ? "true" : "false") + ",\n  \"rows\": [";
  char buf[640];
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    std::snprintf(
        buf, sizeof buf,
        "%s\n    {\"model\": \"%s\", \"targets\": \"%s\", \"n\": %d, \"users\": %zu, "
        "\"entries\": %zu, \"rmse\": %.6g, \"mae\": %.6g, \"nll\": %.6g, \"coverage90\": %.6g, "
        "\"k\": %d, \"ranked_users\": %zu, \"precision\": %.6g, \"recall\": %.6g, "
        "\"ndcg\": %.6g}",
        i ? "," : "", r.model.c_str(), to_string(r.targets), r.n, r.users, r.metrics.n,
        r.metrics.rmse, r.metrics.mae, r.metrics.nll, r.metrics.coverage90, r.ranking.k,
        r.ranking.users, r.ranking.precision, r.ranking.recall, r.ranking.ndcg);
    out += buf;
  }
  return out + "\n  ]\n}\n";
}

}  // namespace ppmf
