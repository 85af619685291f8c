// Held-out scoring (see evaluate.hpp).
#include "ppmf/evaluate.hpp"

#include <algorithm>
#include <limits>

#include "ppmf/predict.hpp"

namespace ppmf {

float relevance_threshold(const EvalOptions& opt, const Model& model) {
  if (opt.relevant_all) return -std::numeric_limits<float>::infinity();
  return opt.has_relevant ? to_model_scale(static_cast<float>(opt.relevant), model.config.transform)
                          : model.mu0;
}

EvalReport evaluate(Backend& backend, const Model& model, const Ratings& table,
                    const EvalOptions& opt) {
  if (opt.k < 1) throw ConfigError("k", "must be at least 1, got " + std::to_string(opt.k));
  const Predictions pred = predict_table(backend, model, table, opt.user_groups, opt.item_groups,
                                         opt.plain_prior);
  const Transform t = model.config.transform;
  const float relevant = relevance_threshold(opt, model);
  MetricSums all;
  std::vector<MetricSums> by(history_bucket_names().size());
  // Ranking inputs, one row per distinct user of the table.
  std::vector<int32_t> row_of(table.users.size(), -1), users, bucket_of;
  std::vector<std::vector<int32_t>> exclude, relevant_items;
  std::vector<int32_t> item_of(table.items.size());
  for (size_t j = 0; j < item_of.size(); ++j)
    item_of[j] = model.items.find(table.items.name(static_cast<int32_t>(j)));
  for (size_t e = 0; e < table.size(); ++e) {
    const float y = to_model_scale(table.value[e], t);
    const int32_t u = pred.user_index[e];
    const int bucket = history_bucket(u < model.U.n ? model.user_count[u] : 0);
    all.add(y, pred.mean[e], pred.var[e]);
    by[bucket].add(y, pred.mean[e], pred.var[e]);
    int32_t& r = row_of[table.user[e]];
    if (r < 0) {
      r = static_cast<int32_t>(users.size());
      users.push_back(u);
      bucket_of.push_back(bucket);
      const auto seen = seen_items_of(model, u);
      exclude.emplace_back(seen.begin(), seen.end());
      relevant_items.emplace_back();
    }
    const int32_t j = item_of[table.item[e]];
    if (y > relevant && j >= 0) relevant_items[r].push_back(j);  // values are finite
  }
  for (auto& list : relevant_items) std::sort(list.begin(), list.end());
  EvalReport report;
  report.overall = all.finish();
  report.bucket_names = history_bucket_names();
  for (const auto& b : by) report.buckets.push_back(b.finish());
  RecommendOptions ranking;
  ranking.k = opt.k;
  ranking.objective = opt.objective;
  ranking.watch = opt.watch;
  report.objective = resolve_objective(opt.objective, model);
  const size_t items = static_cast<size_t>(model.V.n);
  const auto model_lists = ranked_lists(backend, model, users, exclude, ranking);
  const auto popular = popular_lists(model, exclude, opt.k);
  report.ranking = score_lists(model_lists, relevant_items, opt.k, items);
  report.popular = score_lists(popular, relevant_items, opt.k, items);
  for (int b = 0; b < static_cast<int>(by.size()); ++b) {
    std::vector<std::vector<int32_t>> mine, theirs, wanted;
    for (size_t r = 0; r < users.size(); ++r)
      if (bucket_of[r] == b) {
        mine.push_back(model_lists[r]);
        theirs.push_back(popular[r]);
        wanted.push_back(relevant_items[r]);
      }
    report.ranking_buckets.push_back(score_lists(mine, wanted, opt.k, items));
    report.popular_buckets.push_back(score_lists(theirs, wanted, opt.k, items));
  }
  return report;
}

}  // namespace ppmf
