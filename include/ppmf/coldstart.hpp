// The given-N cold-start protocol: hold out users (by a hash of their id), train on the rest, then
// give each held-out user its first N entries by fold-in and score the entries it makes after
// them. Compares the pooled model (with the size-biased new-user prior, and with the plain group
// prior), the same model unpooled, and an item-mean baseline, per N, under two target rules:
//   after-n: a user with more than N entries is scored on all its entries after its first N (the
//            entries a service would actually have to predict, so heavy users weigh most);
//   fixed:   a user with more than max(N) entries is scored on its entries after its first
//            max(N), the same targets for every N (isolates the effect of N).
// "First" is by time when the data have a time column (ties in file order), else in a random
// order drawn per user from the seed.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ppmf/backend.hpp"
#include "ppmf/config.hpp"
#include "ppmf/metrics.hpp"
#include "ppmf/ranking.hpp"
#include "ppmf/reader.hpp"
#include "ppmf/recommend.hpp"
#include "ppmf/scheduler.hpp"

namespace ppmf {

struct GivenNConfig {
  std::vector<int> ns{0, 1, 3, 5};
  double holdout_users = 0.2;
  uint64_t seed = 1;
  bool has_relevant = false;  // default threshold: the training mean (model scale)
  double relevant = 0;        // raw-scale threshold: entries above it are relevant
  bool relevant_all = false;  // every target entry is relevant (watch data: a view is a hit)
  Objective objective = Objective::kAuto;  // what the models' lists rank by
  int k = 10;
};

// Held-out users' entries in the order in which they are given.
struct GivenNSplit {
  Ratings train;  // all entries of the training users
  // Per held-out user with more than min(ns) entries: its entries as (item id, raw value), first
  // by time (or the seeded random order).
  std::vector<std::string> users;
  std::vector<std::vector<std::pair<std::string, float>>> entries;
  bool by_time = false;
  int min_n = 0, max_n = 0;
};

GivenNSplit given_n_split(const Ratings& all, const GivenNConfig& config);

enum class GivenNTargets { kAfterN, kFixed };
const char* to_string(GivenNTargets t);

struct GivenNRow {
  std::string model;  // pooled, pooled-plain, unpooled, item-mean
  GivenNTargets targets = GivenNTargets::kAfterN;
  int n = 0;
  size_t users = 0;  // scored users
  Metrics metrics;
  RankingMetrics ranking;
};

struct GivenNResult {
  size_t held_out_users = 0;  // held-out users with more than min(N) entries
  size_t train_entries = 0;
  bool by_time = false;
  Objective objective = Objective::kAuto;  // what the pooled model's lists ranked by (as evaluated)
  std::vector<GivenNRow> rows;
};

using BackendFactory = std::function<std::unique_ptr<Backend>()>;

// Throws ConfigError naming the first setting of `c` out of range or at odds with `tc` (run_given_n
// checks too; a front end calls it before reading the data).
void validate(const GivenNConfig& c, const TrainConfig& tc);

// Trains the pooled and unpooled models on split.train (callbacks follow both trainings; on_note
// also says which model is training) and scores every model per N and target rule.
GivenNResult run_given_n(const GivenNSplit& split, const GivenNConfig& config,
                         const ModelConfig& model_config, const TrainConfig& train_config,
                         const GroupFile* user_groups, const GroupFile* item_groups,
                         const BackendFactory& make_backend, const TrainCallbacks& callbacks = {});

}  // namespace ppmf
