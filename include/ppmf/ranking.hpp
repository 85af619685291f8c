// Ranking metrics for top-K lists against held-out relevant items: precision@K, recall@K and
// NDCG@K with binary relevance, averaged over users with at least one relevant item.
#pragma once

#include <string>
#include <vector>

#include "ppmf/backend.hpp"
#include "ppmf/model.hpp"

namespace ppmf {

struct RankingMetrics {
  int k = 10;
  size_t users = 0;  // users with at least one relevant held-out item
  double precision = 0, recall = 0, ndcg = 0;
};

struct RankingSums {
  int k = 10;
  size_t users = 0;
  double precision = 0, recall = 0, ndcg = 0;
  // `ranked` is the user's top-k item list (best first), `relevant` its sorted relevant items.
  void add(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant);
  RankingMetrics finish() const;
};

// Ranks the whole catalog for each user in `users` (extended indices), excluding `exclude[u]`
// (sorted), and scores the top k against `relevant[u]` (sorted).
RankingMetrics rank_and_score(Backend& backend, const Model& model,
                              const std::vector<int32_t>& users,
                              const std::vector<std::vector<int32_t>>& exclude,
                              const std::vector<std::vector<int32_t>>& relevant, int k);

}  // namespace ppmf
