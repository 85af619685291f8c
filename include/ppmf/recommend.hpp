// Top-K recommendations with uncertainty: every candidate item is scored for each user (dense,
// blocked scoring through the backend), seen items are excluded, and items are ranked by the
// predictive mean, by mean + beta * sd (UCB), or by one posterior sample (Thompson sampling).
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "ppmf/backend.hpp"
#include "ppmf/model.hpp"
#include "ppmf/reader.hpp"

namespace ppmf {

enum class Explore { kNone, kThompson, kUcb };
Explore parse_explore(const std::string& s);

// What the list ranks by: the predicted value of an entry as if the item were watched (minutes,
// rating: the minutes part), how likely the user is to watch the item (the watch score of the
// watch part), or the expected value of recommending it: clamp(watch score, 0, 1) x the expected
// value on the original scale. kAuto: kWatch, or kMinutes for a model without a watch part
// (kWatch finds the held-out views best on MovieLens, Last.fm and Steam; kExpected finds the
// highly rated ones best on MovieLens: bench/RESULTS.md).
enum class Objective { kAuto, kMinutes, kWatch, kExpected };
Objective parse_objective(const std::string& s);  // auto|minutes|watch|expected
const char* to_string(Objective o);
Objective resolve_objective(Objective o, const Model& model);

struct RecommendOptions {
  int k = 10;
  bool include_seen = false;
  Explore explore = Explore::kNone;
  double ucb_beta = 1.0;
  uint64_t seed = 1;
  std::vector<int32_t> candidates;  // item indices (find_items); empty = the whole catalog
  // For users given by id: the groups of ids unknown to the model, and whether those start from
  // the plain group prior instead of the size-biased one (see resolve_pairs).
  const GroupFile* user_groups = nullptr;
  bool plain_prior = false;
  Objective objective = Objective::kAuto;
  // A backend loaded with watch_view(model) (watch.hpp) for kWatch and kExpected; null: one is
  // made on the CPU for each call.
  Backend* watch = nullptr;
};

struct Recommendation {
  int32_t item;
  float score;      // the ranking criterion (model scale for kMinutes)
  float mean, var;  // predictive, model scale, noise included
  // The watch score and its posterior variance; NaN when the list ranked by minutes without a
  // watch backend (RecommendOptions::watch) or the model has no watch part.
  float watch = NAN, watch_var = NAN;
};

// `users` are extended indices (see backend.hpp); `seen[u]` the sorted items to exclude for
// users[u] (ignored with include_seen). Thompson draws are seeded by (seed, position in `users`),
// so a user's list does not depend on the batch it was scored in or on the thread count.
std::vector<std::vector<Recommendation>> recommend(Backend& backend, const Model& model,
                                                   const std::vector<int32_t>& users,
                                                   const std::vector<std::vector<int32_t>>& seen,
                                                   const RecommendOptions& options);

// Lists for users given by id: a known user excludes the items it has seen (unless include_seen);
// an unknown one ranks from its prior, its group's when options.user_groups names it.
std::vector<std::vector<Recommendation>> recommend(Backend& backend, const Model& model,
                                                   const std::vector<std::string>& user_ids,
                                                   const RecommendOptions& options);

}  // namespace ppmf
