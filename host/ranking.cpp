// Ranking metrics (binary relevance).
#include "ppmf/ranking.hpp"

#include <algorithm>
#include <cmath>

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

RankingMetrics rank_and_score(Backend& backend, const Model& model,
                              const std::vector<int32_t>& users,
                              const std::vector<std::vector<int32_t>>& exclude,
                              const std::vector<std::vector<int32_t>>& relevant, int k) {
  RecommendOptions opt;
  opt.k = k;
  const auto lists = recommend(backend, model, users, exclude, opt);
  RankingSums sums;
  sums.k = k;
  for (size_t u = 0; u < users.size(); ++u) {
    std::vector<int32_t> ranked;
    for (const auto& r : lists[u]) ranked.push_back(r.item);
    sums.add(ranked, relevant[u]);
  }
  return sums.finish();
}

}  // namespace ppmf
