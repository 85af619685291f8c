// ppmf-gpu foldin: add new users (or new entries of known users) to a model without retraining.
#include <cstdio>

#include "cli/common.hpp"
#include "ppmf/foldin.hpp"
#include "ppmf/model_file.hpp"

namespace ppmf::cli {

int cmd_foldin(int argc, char** argv) {
  Args args(
      "foldin", "--model FILE --data FILE --out FILE [options]",
      "Folds users into a trained model by their exact Gaussian posterior given the item factors:\n"
      "one small solve per user, no retraining. New users start from their group's prior (group\n"
      "from --user-groups; else 'default' when the model has groups, else the population), its\n"
      "mean size-biased for their number of entries (see --plain-prior); users already in the\n"
      "model are updated with the new entries, their current posterior as the prior. Entries of\n"
      "items the model has never seen are skipped (and counted).");
  args.option("model", "", "trained model", "FILE")
      .option("data", "", "new entries (user,item,value)", "FILE");
  add_read_options(args, true);
  args.option("user-groups", "", "CSV id,group for the new users", "FILE")
      .option("out", "", "model file to write (may equal --model)", "FILE")
      .option("threads", "0",
              "CPU threads (0 = the CPUs this process may use: affinity and cgroup quota)", "N");
  add_new_user_options(args);
  if (!args.parse(argc, argv)) return 0;
  check_paths(args, {"model", "data", "user-groups"}, {"out"}, {{"model", "out"}});
  if (!args.given("model") || !args.given("data") || !args.given("out"))
    throw Error("foldin needs --model, --data and --out");
  Model model = load_model(args.str("model"));
  const Ratings table = load_table(args, args.str("data"), true);
  const auto user_groups = load_groups(args, "user-groups");
  const FoldInReport r = fold_in_table(model, table, ptr(user_groups), fold_in_options(args));
  save_model(model, args.str("out"));
  std::printf(
      "added %zu users, updated %zu, used %zu entries, skipped %zu with unknown items; wrote %s\n",
      r.added, r.updated, r.entries_used, r.entries_unknown_item, args.str("out").c_str());
  return 0;
}

}  // namespace ppmf::cli
