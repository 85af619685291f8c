// Scoring a model on held-out entries: accuracy and calibration overall and by the user's amount
// of training data, and the ranking quality of each user's top-K list.
#pragma once

#include <string>
#include <vector>

#include "ppmf/backend.hpp"
#include "ppmf/metrics.hpp"
#include "ppmf/model.hpp"
#include "ppmf/ranking.hpp"
#include "ppmf/recommend.hpp"
#include "ppmf/reader.hpp"

namespace ppmf {

struct EvalOptions {
  // Groups of ids the model has not seen (see resolve_pairs).
  const GroupFile* user_groups = nullptr;
  const GroupFile* item_groups = nullptr;
  bool plain_prior = false;  // unknown users from the plain group prior, not the size-biased one
  int k = 10;                // length of the ranked lists
  // Entries above this raw value are relevant; without it, those above the training mean;
  // relevant_all: every held-out entry (for watch data: a view is what a list should find).
  bool has_relevant = false;
  double relevant = 0;
  bool relevant_all = false;
  Objective objective = Objective::kAuto;  // what the model's lists rank by (recommend.hpp)
  Backend* watch = nullptr;                // loaded with watch_view(model) (see RecommendOptions)
};

struct EvalReport {
  Metrics overall;  // model scale
  std::vector<std::string> bucket_names;  // history_bucket_names()
  std::vector<Metrics> buckets;           // by the user's number of training entries
  RankingMetrics ranking;
  Objective objective = Objective::kMinutes;  // what `ranking` ranked by (resolved)
  RankingMetrics popular;                     // the most-popular lists of the same users
  // Both again by the user's number of training entries (bucket_names): how the lists serve
  // light and new users (0: unknown to the model, ranked from its prior). A bucket's coverage
  // is that of its own users' lists, so it shrinks with the bucket.
  std::vector<RankingMetrics> ranking_buckets, popular_buckets;
};

// The model-scale value above which a held-out entry is relevant under `opt`: -infinity with
// relevant_all (every entry), the given raw threshold transformed, or the training mean.
float relevance_threshold(const EvalOptions& opt, const Model& model);

// Scores `model` (already loaded into `backend`) on `table` (raw values, any ids). Each user of
// the table ranks the catalog (its seen items excluded; users unknown to the model rank from their
// prior) and its list is scored against its relevant entries of the table on known items.
EvalReport evaluate(Backend& backend, const Model& model, const Ratings& table,
                    const EvalOptions& options = {});

}  // namespace ppmf
