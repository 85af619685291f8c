// The given-N cold-start protocol: hold out a random fraction of users, train on the rest, then
// give each held-out user N of its entries by fold-in and score the others. Compares the pooled
// model, the same model unpooled, and an item-mean baseline, per N.
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

namespace ppmf {

struct GivenNConfig {
  std::vector<int> ns{0, 1, 3, 5};
  double holdout_users = 0.2;
  uint64_t seed = 1;
  bool has_relevant = false;  // default threshold: the training mean (model scale)
  double relevant = 0;        // raw-scale threshold: entries above it are relevant
  int k = 10;
};

// Held-out users' entries split into what fold-in may see and what is scored.
struct GivenNSplit {
  Ratings train;  // all entries of the training users
  // Per held-out user (with more than max(ns) entries): its entries in a random order, as
  // (item id, raw value); the first max(ns) are the candidates to give, the rest the targets.
  std::vector<std::string> users;
  std::vector<std::vector<std::pair<std::string, float>>> entries;
  int max_n = 0;
};

GivenNSplit given_n_split(const Ratings& all, const GivenNConfig& config);

struct GivenNRow {
  std::string model;
  int n = 0;
  Metrics metrics;
  RankingMetrics ranking;
};

using BackendFactory = std::function<std::unique_ptr<Backend>()>;

// Trains the pooled and unpooled models on split.train and scores all three models per N.
std::vector<GivenNRow> run_given_n(const GivenNSplit& split, const GivenNConfig& config,
                                   const ModelConfig& model_config, const TrainConfig& train_config,
                                   const GroupFile* user_groups, const GroupFile* item_groups,
                                   const BackendFactory& make_backend);

std::string format_given_n_table(const std::vector<GivenNRow>& rows);
std::string format_given_n_json(const std::vector<GivenNRow>& rows, const GivenNSplit& split);

}  // namespace ppmf
