// ppmf-gpu predict: predictive mean and sd for (user, item) pairs, as CSV.
#include "cli/common.hpp"
#include "ppmf/csv_writer.hpp"
#include "ppmf/foldin.hpp"
#include "ppmf/model_file.hpp"
#include "ppmf/predict.hpp"

namespace ppmf::cli {

int cmd_predict(int argc, char** argv) {
  Args args(
      "predict", "--model FILE --pairs FILE [options]",
      "Writes CSV user,item,mean,sd,source: the predictive mean and standard deviation of each\n"
      "pair (noise included). source says what the prediction rests on: trained (both ids seen in\n"
      "training), group (an unseen id's group prior) or population (the population prior).");
  args.option("model", "", "model file", "FILE")
      .option("pairs", "", "user,item pairs (extra columns ignored)", "FILE");
  add_read_options(args, false);
  add_group_options(args, " for ids unseen in training");
  args.option("history", "",
              "entries (user,item,value; columns 1-3 or by header) folded in before predicting",
              "FILE");
  add_new_user_options(args);
  args.option("scale", "original",
              "original (undo the model's transform: minutes for log1p) or model", "S")
      .option("out", "-", "output CSV ('-' = stdout)", "FILE");
  add_device_options(args, "auto");
  if (!args.parse(argc, argv)) return 0;
  check_paths(args, {"model", "pairs", "history", "user-groups", "item-groups"}, {"out"});
  if (!args.given("model") || !args.given("pairs"))
    throw Error("predict needs --model and --pairs");
  const std::string scale = args.str("scale");
  if (scale != "original" && scale != "model")
    throw Error("unknown --scale '" + scale + "' (expected original|model)");

  Model model = load_model(args.str("model"));
  const Ratings pairs = load_table(args, args.str("pairs"), false);
  const auto user_groups = load_groups(args, "user-groups");
  if (args.given("history"))
    fold_in_table(model, read_ratings(args.str("history"), ReadOptions{}), ptr(user_groups),
                  fold_in_options(args));
  const auto item_groups = load_groups(args, "item-groups");
  auto backend = open_backend(args);
  backend->load_model(model);
  const Predictions pred = predict_table(*backend, model, pairs, ptr(user_groups),
                                         ptr(item_groups), args.given("plain-prior"));
  const Transform t = scale == "original" ? model.config.transform : Transform::kNone;
  CsvWriter out(args.str("out"));
  out.write("user,item,mean,sd,source\n");
  for (size_t k = 0; k < pairs.size(); ++k) {
    double mean, sd;
    to_original_scale(t, pred.mean[k], pred.var[k], mean, sd);
    out.field(pairs.users.name(pairs.user[k])).sep().field(pairs.items.name(pairs.item[k])).sep();
    out.number(mean).sep().number(sd).sep().write(to_string(pred.source[k])).end_line();
  }
  out.close();
  return 0;
}

}  // namespace ppmf::cli
