// ppmf-gpu recommend: top-K items per user with predictive mean and sd.
#include <cmath>
#include <fstream>

#include "cli/common.hpp"
#include "ppmf/csv_writer.hpp"
#include "ppmf/foldin.hpp"
#include "ppmf/groups.hpp"
#include "ppmf/model_file.hpp"
#include "ppmf/predict.hpp"
#include "ppmf/recommend.hpp"

namespace ppmf::cli {
namespace {

// One id per line; a first line "user" / "item" / "id" is a header; blank lines and CR are ignored.
std::vector<std::string> read_id_list(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot open");
  std::vector<std::string> ids;
  for (std::string line; std::getline(f, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string id = line.substr(0, line.find(','));
    if (id.empty()) continue;
    if (ids.empty() && (id == "user" || id == "item" || id == "id")) continue;
    ids.push_back(id);
  }
  if (ids.empty()) throw Error(path + ": no ids");
  return ids;
}

}  // namespace

int cmd_recommend(int argc, char** argv) {
  Args args(
      "recommend", "--model FILE (--users FILE | --user ID) [options]",
      "Writes CSV user,rank,item,score,mean,sd[,watch,watch_sd]: the top K items per user, ranked\n"
      "by --objective: the watch score (how likely the user is to watch the item), the\n"
      "predicted value if watched (mean, sd: minutes or rating), or their product (expected);\n"
      "--explore thompson ranks by a posterior draw of both parts, ucb by mean + beta * sd.\n"
      "Items the user has seen (training entries stored in the model, plus --history) are\n"
      "excluded.\n"
      "Users unknown to the model are scored from their --history (folded in on the fly), else\n"
      "from their group's prior or the population prior.");
  args.option("model", "", "model file", "FILE")
      .option("users", "", "users to recommend for, one id per line", "FILE")
      .option("user", "", "a single user id", "ID")
      .option("k", "10", "items per user", "K")
      .option("history", "", "extra entries (user,item,value) folded in before scoring", "FILE");
  add_read_options(args, true);
  add_new_user_options(args);
  args.option("user-groups", "", "CSV id,group for users unknown to the model", "FILE")
      .option("candidates", "", "restrict to these items, one id per line", "FILE")
      .flag("include-seen", "do not exclude seen items")
      .option("explore", "none", "none|thompson|ucb", "MODE");
  add_objective_option(args);
  args
      .option("ucb-beta", "1", "beta of mean + beta * sd", "B")
      .option("seed", "1", "seed of the Thompson draws", "S")
      .option("scale", "original",
              "mean and sd on the original scale (minutes for log1p) or the model scale", "S")
      .option("out", "-", "output CSV ('-' = stdout)", "FILE");
  add_device_options(args, "auto");
  if (!args.parse(argc, argv)) return 0;
  check_paths(args, {"model", "users", "history", "user-groups", "candidates"}, {"out"});
  if (!args.given("model") || args.given("users") == args.given("user"))
    throw Error("recommend needs --model and one of --users FILE or --user ID");
  const std::string scale = args.str("scale");
  if (scale != "original" && scale != "model")
    throw Error("unknown --scale '" + scale + "' (expected original|model)");

  Model model = load_model(args.str("model"));
  const auto user_groups = load_groups(args, "user-groups");
  if (args.given("history"))
    fold_in_table(model, load_table(args, args.str("history"), true), ptr(user_groups),
                  fold_in_options(args));

  RecommendOptions opt;
  opt.objective = parse_objective(args.str("objective"));
  opt.k = args.int_value("k");
  opt.include_seen = args.given("include-seen");
  opt.explore = parse_explore(args.str("explore"));
  opt.ucb_beta = args.real("ucb-beta", 0, 1e6);
  opt.seed = seed_from(args);
  if (args.given("candidates")) opt.candidates = find_items(model, read_id_list(args.str("candidates")));
  opt.user_groups = ptr(user_groups);
  opt.plain_prior = args.given("plain-prior");
  const std::vector<std::string> users =
      args.given("user") ? std::vector<std::string>{args.str("user")} : read_id_list(args.str("users"));
  auto backend = open_backend(args);
  backend->load_model(model);
  auto watch = open_watch_backend(args, model);
  opt.watch = watch.get();
  const auto lists = recommend(*backend, model, users, opt);

  const Transform t = scale == "original" ? model.config.transform : Transform::kNone;
  CsvWriter out(args.str("out"));
  const bool with_watch = model.watch.present;  // the columns do not depend on the lists
  out.write(with_watch ? "user,rank,item,score,mean,sd,watch,watch_sd\n"
                       : "user,rank,item,score,mean,sd\n");
  for (size_t u = 0; u < lists.size(); ++u) {
    int rank = 0;
    for (const Recommendation& r : lists[u]) {
      double mean, sd;
      to_original_scale(t, r.mean, r.var, mean, sd);
      out.field(users[u])
          .sep()
          .write(std::to_string(++rank))
          .sep()
          .field(model.items.name(r.item))
          .sep();
      out.number(r.score).sep().number(mean).sep().number(sd);
      if (with_watch) out.sep().number(r.watch).sep().number(std::sqrt(r.watch_var));
      out.end_line();
    }
  }
  out.close();
  return 0;
}

}  // namespace ppmf::cli
