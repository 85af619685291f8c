// Ranking metrics for top-K lists against held-out relevant items: precision@K, recall@K and
// NDCG@K with binary relevance, averaged over users with at least one relevant item.
#pragma once

#include <string>
#include <vector>

#include "ppmf/backend.hpp"
#include "ppmf/model.hpp"
#include "ppmf/recommend.hpp"

namespace ppmf {

struct RankingMetrics {
  int k = 10;
  size_t users = 0;  // users with at least one relevant held-out item
  double precision = 0, recall = 0, ndcg = 0;
  double coverage = 0;  // fraction of the catalog in at least one of the lists
};

struct RankingSums {
  int k = 10;
  size_t users = 0;
  double precision = 0, recall = 0, ndcg = 0;
  // `ranked` is the user's top-k item list (best first), `relevant` its sorted relevant items.
  void add(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant);
  RankingMetrics finish() const;
};

// Each user's top-k item list, best first. ranked_lists: `users` (extended indices) ranked by
// `options` (its k, objective and watch backend), `exclude[u]` (sorted) left out. popular_lists:
// the most popular items (most training entries, ties by index) outside `exclude[u]`.
std::vector<std::vector<int32_t>> ranked_lists(Backend& backend, const Model& model,
                                               const std::vector<int32_t>& users,
                                               const std::vector<std::vector<int32_t>>& exclude,
                                               const RecommendOptions& options);
std::vector<std::vector<int32_t>> popular_lists(const Model& model,
                                                const std::vector<std::vector<int32_t>>& exclude,
                                                int k);

// The metrics of `lists` against `relevant` (sorted; users without relevant items are not
// counted), and the coverage of a catalog of `items` by all of `lists`.
RankingMetrics score_lists(const std::vector<std::vector<int32_t>>& lists,
                           const std::vector<std::vector<int32_t>>& relevant, int k, size_t items);

// Ranks the whole catalog for each user in `users` (extended indices), excluding `exclude[u]`
// (sorted), by `options` (its k, objective and watch backend), and scores the top k against
// `relevant[u]` (sorted).
RankingMetrics rank_and_score(Backend& backend, const Model& model,
                              const std::vector<int32_t>& users,
                              const std::vector<std::vector<int32_t>>& exclude,
                              const std::vector<std::vector<int32_t>>& relevant,
                              const RecommendOptions& options);

// The baseline every ranking is judged against: the same users' lists of the most popular items
// (most training entries, ties by index) they have not seen, scored the same way.
RankingMetrics most_popular_and_score(const Model& model,
                                      const std::vector<std::vector<int32_t>>& exclude,
                                      const std::vector<std::vector<int32_t>>& relevant, int k);

}  // namespace ppmf
