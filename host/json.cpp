// JSON renderers (see json.hpp), through nlohmann::json; keys keep the order written here.
#include "ppmf/json.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace ppmf {
namespace {

using Json = nlohmann::ordered_json;

Json number(double v) {
  return std::isfinite(v) ? Json(v) : Json(nullptr);
}

Json metrics(const Metrics& m) {
  const bool any = m.n > 0;
  return Json{{"n", m.n},
              {"rmse", any ? number(m.rmse) : Json()},
              {"mae", any ? number(m.mae) : Json()},
              {"nll", any ? number(m.nll) : Json()},
              {"coverage90", any ? number(m.coverage90) : Json()}};
}

Json ranking(const RankingMetrics& r) {
  const bool any = r.users > 0;
  return Json{{"k", r.k},
              {"users", r.users},
              {"precision", any ? number(r.precision) : Json()},
              {"recall", any ? number(r.recall) : Json()},
              {"ndcg", any ? number(r.ndcg) : Json()},
              {"catalog_coverage", number(r.coverage)}};
}

Json epoch(const EpochMetrics& e) {
  const auto opt = [](bool has, double v) { return has ? number(v) : Json(); };
  return Json{{"epoch", e.epoch},
              {"elbo_per_entry", number(e.elbo_per_entry)},
              {"train_rmse", number(e.train_rmse)},
              {"valid_rmse", opt(e.has_valid, e.valid_rmse)},
              {"valid_nll", opt(e.has_valid, e.valid_nll)},
              {"test_rmse", opt(e.has_test, e.test_rmse)},
              {"test_nll", opt(e.has_test, e.test_nll)},
              {"sigma", number(e.sigma)},
              {"entries_per_s", number(e.entries_per_s)},
              {"seconds", number(e.seconds)}};
}

std::string text(const Json& j) {
  return j.dump(2) + "\n";
}

}  // namespace

std::string to_json(const EvalReport& r) {
  Json by = Json::object(), ranking_by = Json::object();
  for (size_t b = 0; b < r.buckets.size(); ++b) {
    by[r.bucket_names[b]] = metrics(r.buckets[b]);
    ranking_by[r.bucket_names[b]] = Json{{"model", ranking(r.ranking_buckets[b])},
                                         {"most_popular", ranking(r.popular_buckets[b])}};
  }
  return text(Json{{"overall", metrics(r.overall)},
                   {"by_user_history", by},
                   {"ranking", ranking(r.ranking)},
                   {"objective", to_string(r.objective)},
                   {"most_popular", ranking(r.popular)},
                   {"ranking_by_user_history", ranking_by}});
}

namespace {
// Rank 0's traffic per epoch of a distributed run.
Json distributed(const TrainReport& r) {
  const double epochs = std::max(1, r.comm_epochs);
  return Json{{"ranks", r.ranks},
              {"transport", r.transport},
              {"comm_seconds_per_epoch", number(r.epoch_comm.seconds / epochs)},
              {"comm_wait_seconds_per_epoch", number(r.epoch_comm.wait_seconds / epochs)},
              {"comm_bytes_per_epoch", number(static_cast<double>(r.epoch_comm.bytes) / epochs)},
              {"collectives_per_epoch", number(static_cast<double>(r.epoch_comm.calls) / epochs)}};
}
}  // namespace

std::string to_json(const TrainReport& r, const std::vector<EpochMetrics>& history) {
  Json epochs = Json::array();
  for (const EpochMetrics& e : history) epochs.push_back(epoch(e));
  return text(Json{{"device", r.device},
                   {"train_entries", r.train_entries},
                   {"valid_entries", r.valid_entries},
                   {"test_entries", r.test_entries},
                   {"epochs_run", r.epochs_run},
                   {"chosen_epoch", r.chosen_epoch > 0 ? Json(r.chosen_epoch) : Json()},
                   {"kept_epoch", r.kept.epoch},
                   {"stopped_early", r.stopped_early},
                   {"refit", r.refit},
                   {"watch_device", r.watch_device.empty() ? Json() : Json(r.watch_device)},
                   {"watch_seconds", number(r.watch_seconds)},
                   {"seconds", number(r.seconds)},
                   {"distributed", r.ranks > 1 || !r.transport.empty() ? distributed(r) : Json()},
                   {"epochs", epochs}});
}

std::string to_json(const GivenNResult& result) {
  Json rows = Json::array();
  for (const GivenNRow& r : result.rows) {
    Json row{{"model", r.model}, {"targets", to_string(r.targets)}, {"n", r.n},
             {"users", r.users}};
    const Json m = metrics(r.metrics);
    row["entries"] = m["n"];
    for (const char* key : {"rmse", "mae", "nll", "coverage90"}) row[key] = m[key];
    const Json k = ranking(r.ranking);
    row["k"] = k["k"];
    row["ranked_users"] = k["users"];
    for (const char* key : {"precision", "recall", "ndcg", "catalog_coverage"}) row[key] = k[key];
    rows.push_back(row);
  }
  return text(Json{{"protocol", "given-n"},
                   {"held_out_users", result.held_out_users},
                   {"train_entries", result.train_entries},
                   {"by_time", result.by_time},
                   {"objective", to_string(result.objective)},
                   {"rows", rows}});
}

std::string to_json(const std::vector<Throughput>& runs) {
  Json out = Json::array();
  const auto sweep = [](const SweepTiming& s) {
    return Json{{"seconds", number(s.seconds)},
                {"entries_per_s", number(s.entries_per_s)},
                {"flops_per_s", number(s.flops_per_s)},
                {"bytes_per_s", number(s.bytes_per_s)}};
  };
  for (const Throughput& t : runs)
    out.push_back(Json{{"device", t.device},
                       {"rank", t.rank},
                       {"users", t.users},
                       {"items", t.items},
                       {"nnz", t.entries},
                       {"copy_bytes_per_s", number(t.copy_bytes_per_s)},
                       {"peak_flops_per_s", number(t.peak_flops_per_s)},
                       {"user_sweep", sweep(t.user_sweep)},
                       {"item_sweep", sweep(t.item_sweep)},
                       {"watch_user_sweep", sweep(t.watch_user_sweep)},
                       {"watch_item_sweep", sweep(t.watch_item_sweep)},
                       {"epoch_seconds", number(t.epoch_seconds)}});
  return text(out);
}

}  // namespace ppmf
