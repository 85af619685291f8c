// ppmf-gpu eval: accuracy, calibration and ranking quality of a model on held-out entries, by user
// history; or the given-N cold-start protocol.
#include <cstdio>

#include "cli/common.hpp"
#include "cli/train_log.hpp"
#include "ppmf/coldstart.hpp"
#include "ppmf/csv_writer.hpp"
#include "ppmf/evaluate.hpp"
#include "ppmf/json.hpp"
#include "ppmf/model_file.hpp"

namespace ppmf::cli {
namespace {

std::string metrics_row(const std::string& name, const Metrics& m) {
  char buf[160];
  if (m.n == 0)
    std::snprintf(buf, sizeof buf, "%-10s %10d %8s %8s %8s %8s\n", name.c_str(), 0, "-", "-", "-",
                  "-");
  else
    std::snprintf(buf, sizeof buf, "%-10s %10zu %8.4f %8.4f %8.4f %8.3f\n", name.c_str(), m.n,
                  m.rmse, m.mae, m.nll, m.coverage90);
  return buf;
}

void print_report(const EvalReport& r) {
  std::printf("%-10s %10s %8s %8s %8s %8s\n", "history", "entries", "rmse", "mae", "nll",
              "cover90");
  std::fputs(metrics_row("all", r.overall).c_str(), stdout);
  for (size_t b = 0; b < r.buckets.size(); ++b)
    std::fputs(metrics_row(r.bucket_names[b], r.buckets[b]).c_str(), stdout);
  std::printf("ranking over %zu users (top %d, seen items excluded):\n", r.ranking.users,
              r.ranking.k);
  std::printf("%-22s %10s %10s %10s %10s\n", "lists", "precision", "recall", "ndcg", "coverage");
  const std::string model = std::string("model (") + to_string(r.objective) + ")";
  for (const auto& [name, k] : {std::pair{model, r.ranking}, std::pair{std::string("most popular"),
                                                                        r.popular}})
    std::printf("%-22s %10.4f %10.4f %10.4f %10.4f\n", name.c_str(), k.precision, k.recall, k.ndcg,
                k.coverage);
  if (r.ranking.users == 0) return;
  std::printf("ranking by the user's training entries (recall / ndcg):\n");
  std::printf("%-10s %8s %19s %19s\n", "history", "users", "model", "most popular");
  for (size_t b = 0; b < r.ranking_buckets.size(); ++b) {
    const RankingMetrics &m = r.ranking_buckets[b], &p = r.popular_buckets[b];
    if (m.users == 0) continue;
    std::printf("%-10s %8zu %9.4f /%8.4f %9.4f /%8.4f\n", r.bucket_names[b].c_str(), m.users,
                m.recall, m.ndcg, p.recall, p.ndcg);
  }
}

// --relevant into either protocol's settings (EvalOptions, GivenNConfig: the same three fields).
template <class Settings>
void read_relevance(const Args& args, Settings& s) {
  s.relevant_all = args.str("relevant") == "all";
  s.has_relevant = args.given("relevant") && !s.relevant_all;
  if (s.has_relevant) s.relevant = args.number("relevant");
}

void print_given_n(const GivenNResult& result) {
  std::printf("lists ranked by %s (most-popular: the most popular unseen items)\n",
              to_string(result.objective));
  std::printf("%-13s %-8s %3s %6s %9s %8s %8s %8s %10s %8s\n", "model", "targets", "N", "users",
              "entries", "rmse", "nll", "cover90", "recall@K", "ndcg@K");
  for (const auto& r : result.rows) {
    if (r.metrics.n == 0) {  // a ranking-only row (most-popular)
      std::printf("%-13s %-8s %3d %6zu %9s %8s %8s %8s %10.4f %8.4f\n", r.model.c_str(),
                  to_string(r.targets), r.n, r.users, "-", "-", "-", "-", r.ranking.recall,
                  r.ranking.ndcg);
      continue;
    }
    std::printf("%-13s %-8s %3d %6zu %9zu %8.4f %8.4f %8.3f %10.4f %8.4f\n", r.model.c_str(),
                to_string(r.targets), r.n, r.users, r.metrics.n, r.metrics.rmse, r.metrics.nll,
                r.metrics.coverage90, r.ranking.recall, r.ranking.ndcg);
  }
}

int given_n(const Args& args) {
  GivenNConfig c;
  c.ns.clear();
  for (long long n : args.integer_list("n", 0, 1000000)) c.ns.push_back(static_cast<int>(n));
  c.holdout_users = args.number("holdout-users");
  c.seed = seed_from(args);
  c.k = args.int_value("k");
  read_relevance(args, c);
  c.objective = parse_objective(args.str("objective"));
  const ModelConfig model_config = model_config_from(args);
  const TrainConfig train_config = train_config_from(args);
  validate(c, train_config);
  const bool quiet = args.given("quiet");
  const Ratings all = load_table(args, args.str("data"), true, args.str("time-column"));
  const auto user_groups = load_groups(args, "user-groups");
  const auto item_groups = load_groups(args, "item-groups");
  const GivenNSplit split = given_n_split(all, c);
  std::fprintf(stderr,
               "given-n: %zu held-out users with more than %d entries (their entries %s); "
               "training on %zu entries\n",
               split.users.size(), split.min_n,
               split.by_time ? "ordered by time" : "in a seeded random order", split.train.size());
  const GivenNResult result =
      run_given_n(split, c, model_config, train_config, ptr(user_groups), ptr(item_groups),
                  [&] { return open_backend(args); }, train_log(quiet));
  print_given_n(result);
  if (args.given("json")) write_text_file(args.str("json"), to_json(result));
  return 0;
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  Args args(
      "eval", "--model FILE --data FILE [options] | --protocol given-n --data FILE [options]",
      "Scores a model on held-out entries: RMSE, MAE, Gaussian NLL and the coverage of the 90%\n"
      "predictive interval, plus precision, recall and NDCG at K of each user's top-K list beside\n"
      "the most-popular list (seen items excluded; held-out entries above --relevant count as\n"
      "relevant), overall and by the user's number of training entries. Metrics are on the model\n"
      "scale. Ids unseen in training are predicted, and users unseen in training ranked, from\n"
      "their group's prior or the population prior.\n"
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
      .option("relevant", "",
              "entries above this value are relevant, or 'all': every held-out entry (default:\n"
              "                            those above the training mean)",
              "X");
  add_objective_option(args);
  args
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
  check_paths(args, {"model", "data", "user-groups", "item-groups"}, {"json"});
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
  EvalOptions opt;
  opt.user_groups = ptr(user_groups);
  opt.item_groups = ptr(item_groups);
  opt.plain_prior = args.given("plain-prior");
  opt.k = args.int_value("k");
  read_relevance(args, opt);
  opt.objective = parse_objective(args.str("objective"));
  auto backend = open_backend(args);
  backend->load_model(model);
  auto watch = open_watch_backend(args, model);
  opt.watch = watch.get();
  const EvalReport report = evaluate(*backend, model, table, opt);
  print_report(report);
  if (args.given("json")) write_text_file(args.str("json"), to_json(report));
  return 0;
}

}  // namespace ppmf::cli
