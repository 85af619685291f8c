// Ranking metrics (binary relevance).
#include "ppmf/ranking.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ppmf/recommend.hpp"

namespace ppmf {

void RankingSums::add(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant) {
  if (relevant.empty()) return;
  size_t hits = 0;
  double dcg = 0, ideal = 0;
  for (size_t r = 0; r < ranked.size() && r < static_cast<size_t>(k); ++r) {
    if (std::binary_search(relevant.begin(), relevant.end(), ranked[r])) {
      ++hits;
      dcg += 1.0 / std::log2(static_cast<double>(r) + 2.0);
    }
  }
  for (size_t r = 0; r < relevant.size() && r < static_cast<size_t>(k); ++r)
    ideal += 1.0 / std::log2(static_cast<double>(r) + 2.0);
  ++users;
  precision += static_cast<double>(hits) / k;
  recall += static_cast<double>(hits) / static_cast<double>(relevant.size());
  ndcg += dcg / ideal;
}

RankingMetrics RankingSums::finish() const {
  RankingMetrics m;
  m.k = k;
  m.users = users;
  if (users == 0) return m;
  m.precision = precision / users;
  m.recall = recall / users;
  m.ndcg = ndcg / users;
  return m;
}

namespace {

double coverage_of(const std::vector<std::vector<int32_t>>& lists, size_t items) {
  std::vector<char> shown(items, 0);
  size_t distinct = 0;
  for (const auto& list : lists)
    for (const int32_t j : list) distinct += shown[j] == 0, shown[j] = 1;
  return items > 0 ? static_cast<double>(distinct) / items : 0.0;
}

}  // namespace

RankingMetrics score_lists(const std::vector<std::vector<int32_t>>& lists,
                           const std::vector<std::vector<int32_t>>& relevant, int k,
                           size_t items) {
  RankingSums sums;
  sums.k = k;
  for (size_t u = 0; u < lists.size(); ++u) sums.add(lists[u], relevant[u]);
  RankingMetrics m = sums.finish();
  m.coverage = coverage_of(lists, items);
  return m;
}

std::vector<std::vector<int32_t>> ranked_lists(Backend& backend, const Model& model,
                                               const std::vector<int32_t>& users,
                                               const std::vector<std::vector<int32_t>>& exclude,
                                               const RecommendOptions& options) {
  const auto recs = recommend(backend, model, users, exclude, options);
  std::vector<std::vector<int32_t>> lists(users.size());
  for (size_t u = 0; u < users.size(); ++u)
    for (const auto& r : recs[u]) lists[u].push_back(r.item);
  return lists;
}

RankingMetrics rank_and_score(Backend& backend, const Model& model,
                              const std::vector<int32_t>& users,
                              const std::vector<std::vector<int32_t>>& exclude,
                              const std::vector<std::vector<int32_t>>& relevant,
                              const RecommendOptions& options) {
  return score_lists(ranked_lists(backend, model, users, exclude, options), relevant, options.k,
                     static_cast<size_t>(model.V.n));
}

std::vector<std::vector<int32_t>> popular_lists(const Model& model,
                                                const std::vector<std::vector<int32_t>>& exclude,
                                                int k) {
  std::vector<int32_t> by_count(static_cast<size_t>(model.V.n));
  std::iota(by_count.begin(), by_count.end(), 0);
  std::stable_sort(by_count.begin(), by_count.end(), [&](int32_t a, int32_t b) {
    return model.item_count[a] > model.item_count[b];
  });
  std::vector<std::vector<int32_t>> lists(exclude.size());
  for (size_t u = 0; u < exclude.size(); ++u)
    for (const int32_t j : by_count) {
      if (static_cast<int>(lists[u].size()) == k) break;
      if (!std::binary_search(exclude[u].begin(), exclude[u].end(), j)) lists[u].push_back(j);
    }
  return lists;
}

RankingMetrics most_popular_and_score(const Model& model,
                                      const std::vector<std::vector<int32_t>>& exclude,
                                      const std::vector<std::vector<int32_t>>& relevant, int k) {
  return score_lists(popular_lists(model, exclude, k), relevant, k,
                     static_cast<size_t>(model.V.n));
}

}  // namespace ppmf
