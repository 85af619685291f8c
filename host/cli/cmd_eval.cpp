// ppmf-gpu eval: accuracy, calibration and ranking quality of a model on held-out entries, by user
// history; or the given-N cold-start protocol.
#include <algorithm>
#include <cstdio>

#include "cli/common.hpp"
#include "ppmf/coldstart.hpp"
#include "ppmf/csv_writer.hpp"
#include "ppmf/metrics.hpp"
#include "ppmf/model_file.hpp"
#include "ppmf/ranking.hpp"

namespace ppmf::cli {
namespace {

std::string ranking_line(const RankingMetrics& r) {
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "ranking over %zu users: precision@%d %.4f  recall@%d %.4f  ndcg@%d %.4f\n",
                r.users, r.k, r.precision, r.k, r.recall, r.k, r.ndcg);
  return buf;
}

int given_n(const Args& args) {
  GivenNConfig c;
  c.ns.clear();
  for (long long n : args.integer_list("n", 0, 1000000)) c.ns.push_back(static_cast<int>(n));
  c.holdout_users = args.real("holdout-users", 1e-6, 1 - 1e-6);
  c.seed = static_cast<uint64_t>(args.integer("seed", 0, 1LL << 62));
  c.k = static_cast<int>(args.integer("k", 1, 100000));
  c.has_relevant = args.given("relevant");
  if (c.has_relevant) c.relevant = args.real("relevant", -1e30, 1e30);
  const Ratings all = load_table(args, args.str("data"), true, args.str("time-column"));
  const auto user_groups = load_groups(args, "user-groups");
  const auto item_groups = load_groups(args, "item-groups");
  const GivenNSplit split = given_n_split(all, c);
  std::fprintf(stderr,
               "given-n: %zu held-out users with more than %d entries (their entries %s); "
               "training on %zu entries\n",
               split.users.size(), split.min_n,
               split.by_time ? "ordered by time" : "in a seeded random order", split.train.size());
  const auto rows =
      run_given_n(split, c, model_config_from(args), train_config_from(args), ptr(user_groups),
                  ptr(item_groups), [&] { return open_backend(args); });
  std::fputs(format_given_n_table(rows).c_str(), stdout);
  if (args.given("json")) write_text_file(args.str("json"), format_given_n_json(rows, split));
  return 0;
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  Args args(
      "eval", "--model FILE --data FILE [options] | --protocol given-n --data FILE [options]",
      "Scores a model on held-out entries: RMSE, MAE, Gaussian NLL and the coverage of the 90%\n"
      "predictive interval, overall and by the user's number of training entries, plus precision,\n"
      "recall and NDCG at K of the user's top-K list (seen items excluded; held-out entries above\n"
      "--relevant count as relevant). Metrics are on the model scale. Ids unseen in training are\n"
      "predicted from their group's prior or the population prior.\n"
      "\n"
      "--protocol given-n holds out --holdout-users of the users of --data (by a hash of the id),\n"
      "trains pooled and unpooled models (training options below) on the rest, gives each\n"
      "held-out user its first N entries (by --time-column when given) by fold-in for each N of\n"
      "--n, and scores the entries after them (targets after-n), and the entries after the first\n"
      "max(N) (targets fixed), beside the plain-prior pooled model and an item-mean baseline\n"
      "((sum + 5 x global mean) / (count + 5) of the item's training values).");
  args.option("protocol", "holdout", "holdout (score --model on --data) or given-n", "P")
      .option("model", "", "model file (holdout protocol)", "FILE")
      .option("data", "", "held-out entries, or all entries for given-n", "FILE");
  add_read_options(args, true);
  add_group_options(args, " for ids unseen in training");
  add_new_user_options(args);
  args.option("k", "10", "length of the ranked list for precision/recall/NDCG", "K")
      .option("relevant", "", "entries above this value are relevant (default: the training mean)",
              "X")
      .option("json", "", "also write the metrics as JSON", "FILE")
      .option("n", "0,1,3,5", "given-n: entries given per held-out user", "LIST")
      .option("holdout-users", "0.2", "given-n: fraction of users held out", "F")
      .option("time-column", "",
              "given-n: column of entry times (header name or 1-based position; epoch seconds or\n"
              "                            YYYY-MM-DD[THH:MM[:SS]]) that orders each user's entries",
              "COL");
  add_training_options(args, "none");
  add_device_options(args, "auto");
  if (!args.parse(argc, argv)) return 0;
  if (!args.given("data")) throw Error("eval needs --data");
  const std::string protocol = args.str("protocol");
  if (protocol == "given-n") return given_n(args);
  if (protocol != "holdout")
    throw Error("unknown --protocol '" + protocol + "' (expected holdout|given-n)");
  if (!args.given("model")) throw Error("eval needs --model (or --protocol given-n)");

  const Model model = load_model(args.str("model"));
  const Ratings table = load_table(args, args.str("data"), true);
  const auto user_groups = load_groups(args, "user-groups");
  const auto item_groups = load_groups(args, "item-groups");
  auto backend = open_backend(args);
  backend->load_model(model);
  const Predictions pred = predict_table(*backend, model, table, ptr(user_groups),
                                         ptr(item_groups), args.given("plain-prior"));
  std::vector<float> observed(table.size());
  for (size_t k = 0; k < table.size(); ++k)
    observed[k] = to_model_scale(table.value[k], model.config.transform);
  const EvalReport report = evaluate(model, observed, pred);

  // Ranking: every trained user of the table ranks the catalog minus its training items.
  const float relevant =
      args.given("relevant")
          ? to_model_scale(static_cast<float>(args.real("relevant", -1e30, 1e30)),
                           model.config.transform)
          : model.mu0;
  std::vector<int32_t> row_of(table.users.size(), -1), users;
  std::vector<std::vector<int32_t>> exclude, relevant_items;
  for (size_t k = 0; k < table.size(); ++k) {
    const int32_t u = pred.user_index[k];
    const int32_t j = model.items.find(table.items.name(table.item[k]));
    if (u >= model.U.n || j < 0) continue;
    int32_t& r = row_of[table.user[k]];
    if (r < 0) {
      r = static_cast<int32_t>(users.size());
      users.push_back(u);
      exclude.emplace_back(model.seen_items.begin() + static_cast<long>(model.seen_offsets[u]),
                           model.seen_items.begin() + static_cast<long>(model.seen_offsets[u + 1]));
      relevant_items.emplace_back();
    }
    if (observed[k] > relevant) relevant_items[r].push_back(j);
  }
  for (auto& list : relevant_items) std::sort(list.begin(), list.end());
  const RankingMetrics ranking = rank_and_score(*backend, model, users, exclude, relevant_items,
                                                static_cast<int>(args.integer("k", 1, 100000)));
  std::fputs(format_report_table(report).c_str(), stdout);
  std::fputs(ranking_line(ranking).c_str(), stdout);
  if (args.given("json")) {
    std::string json = format_report_json(report);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  ",\n  \"ranking\": {\"k\": %d, \"users\": %zu, \"precision\": %.6g, \"recall\": "
                  "%.6g, \"ndcg\": %.6g}\n}\n",
                  ranking.k, ranking.users, ranking.precision, ranking.recall, ranking.ndcg);
    json.replace(json.rfind("\n}"), std::string::npos, buf);
    write_text_file(args.str("json"), json);
  }
  return 0;
}

}  // namespace ppmf::cli
