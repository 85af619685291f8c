// The given-N cold-start protocol (see coldstart.hpp).
#include "ppmf/coldstart.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ppmf/evaluate.hpp"
#include "ppmf/foldin.hpp"
#include "ppmf/predict.hpp"
#include "ppmf/scheduler.hpp"
#include "ppmf/watch.hpp"

namespace ppmf {

const char* to_string(GivenNTargets t) {
  return t == GivenNTargets::kAfterN ? "after-n" : "fixed";
}

GivenNSplit given_n_split(const Ratings& all, const GivenNConfig& c) {
  if (c.ns.empty()) throw ConfigError("n", "needs at least one N");
  if (!(c.holdout_users > 0 && c.holdout_users < 1))
    throw ConfigError("holdout_users", "must be in (0, 1), got " + std::to_string(c.holdout_users));
  GivenNSplit split;
  split.min_n = *std::min_element(c.ns.begin(), c.ns.end());
  split.max_n = *std::max_element(c.ns.begin(), c.ns.end());
  if (split.min_n < 0) throw ConfigError("n", "every N must be >= 0");
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

// The targets of one N and target rule: each scored user's entries from its first target on.
Ratings target_table(const GivenNSplit& s, const Scored& sc) {
  Ratings targets;
  for (const size_t u : sc.users) {
    const int32_t ui = targets.users.insert(s.users[u]);
    for (size_t k = sc.first_target; k < s.entries[u].size(); ++k)
      targets.push(ui, targets.items.insert(s.entries[u][k].first), s.entries[u][k].second);
  }
  return targets;
}

GivenNRow make_row(const std::string& name, int n, GivenNTargets t, size_t users, Metrics metrics,
                   RankingMetrics ranking) {
  GivenNRow row;
  row.model = name;
  row.targets = t;
  row.n = n;
  row.users = users;
  row.metrics = metrics;
  row.ranking = ranking;
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
  // Scores the targets; each user's list excludes the items of its first n entries (those it
  // has been seen to watch) and is scored against its relevant targets.
  GivenNRow score(const GivenNSplit& s, int n, GivenNTargets rule, const Scored& sc,
                  Transform t, float relevant_threshold, int k) const {
    MetricSums sums;
    RankingSums ranking;
    ranking.k = k;
    for (const size_t u : sc.users) {
      const auto& entries = s.entries[u];
      std::vector<int32_t> exclude, relevant;
      for (int e = 0; e < n; ++e) {
        const int32_t j = items.find(entries[e].first);
        if (j >= 0) exclude.push_back(j);
      }
      for (size_t e = sc.first_target; e < entries.size(); ++e) {
        const int32_t j = items.find(entries[e].first);
        const double y = to_model_scale(entries[e].second, t);
        sums.add(y, j >= 0 ? mean[j] : global, var);
        if (y > relevant_threshold && j >= 0) relevant.push_back(j);
      }
      std::sort(exclude.begin(), exclude.end());
      std::sort(relevant.begin(), relevant.end());
      std::vector<int32_t> top;
      for (const int32_t j : by_mean) {
        if (static_cast<int>(top.size()) == k) break;
        if (!std::binary_search(exclude.begin(), exclude.end(), j)) top.push_back(j);
      }
      ranking.add(top, relevant);
    }
    return make_row("item-mean", n, rule, sc.users.size(), sums.finish(), ranking.finish());
  }
};

}  // namespace

void validate(const GivenNConfig& c, const TrainConfig& tc) {
  if (c.k < 1) throw ConfigError("k", "must be at least 1, got " + std::to_string(c.k));
  if (!tc.watch.enabled && (c.objective == Objective::kWatch || c.objective == Objective::kExpected))
    throw ConfigError("objective", std::string(to_string(c.objective)) +
                                       " ranks by the watch model, which this run does not train");
}

GivenNResult run_given_n(const GivenNSplit& split, const GivenNConfig& c, const ModelConfig& mc,
                         const TrainConfig& tc, const GroupFile* user_groups,
                         const GroupFile* item_groups, const BackendFactory& make,
                         const TrainCallbacks& callbacks) {
  validate(c, tc);
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
    if (callbacks.on_note)
      callbacks.on_note(std::string("given-n: training the ") + (pool ? "pooled" : "unpooled") +
                        " model");
    Model m = train(in, config, tc, *backend, callbacks).model;
    if (pool) models.push_back({"pooled-plain", m, true});
    // The unpooled baseline has no learned population to bias towards: plain N(0, I) priors.
    models.push_back({pool ? "pooled" : "unpooled", std::move(m), !pool});
  }
  std::swap(models[0], models[1]);  // pooled, pooled-plain, unpooled
  const Transform t = mc.transform;
  // What every model is scored by; the relevance rule is the same for all (without a threshold,
  // the training mean), so the item-mean baseline takes the first model's.
  EvalOptions scoring;
  scoring.user_groups = user_groups;
  scoring.item_groups = item_groups;
  scoring.k = c.k;
  scoring.has_relevant = c.has_relevant;
  scoring.relevant = c.relevant;
  scoring.relevant_all = c.relevant_all;
  scoring.objective = c.objective;
  const float relevant = relevance_threshold(scoring, models[0].model);
  const ItemMeans item_mean(split.train, t);
  const GivenNTargets rules[] = {GivenNTargets::kAfterN, GivenNTargets::kFixed};
  GivenNResult result;
  result.held_out_users = split.users.size();
  result.train_entries = split.train.size();
  result.by_time = split.by_time;
  for (const int n : c.ns) {
    for (const Trained& tm : models) {
      Model m = tm.model;
      FoldInOptions fold;
      fold.plain_prior = tm.plain;
      if (n > 0) fold_in_table(m, given_table(split, n), user_groups, fold);
      auto backend = make();
      backend->load_model(m);
      std::unique_ptr<Backend> watch;
      if (m.watch.present) {
        watch = make();
        watch->load_model(watch_view(m));
      }
      EvalOptions opt = scoring;
      opt.watch = watch.get();
      opt.plain_prior = tm.plain;
      for (const GivenNTargets rule : rules) {
        // Held-out users are folded-in rows after N > 0 entries (their N items excluded from
        // their lists as seen), prior rows at N = 0.
        const Scored sc = scored_users(split, n, rule);
        const EvalReport r = evaluate(*backend, m, target_table(split, sc), opt);
        result.rows.push_back(
            make_row(tm.name, n, rule, sc.users.size(), r.overall, r.ranking));
        // The most-popular lists of the same users (once: they do not depend on the model).
        if (&tm == &models.front()) {
          result.objective = r.objective;
          result.rows.push_back(make_row("most-popular", n, rule, sc.users.size(), Metrics{},
                                         r.popular));
        }
      }
    }
    for (const GivenNTargets rule : rules)
      result.rows.push_back(item_mean.score(split, n, rule, scored_users(split, n, rule), t,
                                            relevant, c.k));
  }
  return result;
}

}  // namespace ppmf
