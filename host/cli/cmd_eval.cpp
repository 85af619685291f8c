// ppmf-gpu eval: accuracy and calibration of a model on held-out entries, by user history.
#include <cstdio>

#include "cli/common.hpp"
#include "ppmf/csv_writer.hpp"
#include "ppmf/metrics.hpp"
#include "ppmf/model_file.hpp"

namespace ppmf::cli {

int cmd_eval(int argc, char** argv) {
  Args args("eval", "--model FILE --data FILE [options]",
            "Scores a model on held-out entries: RMSE, MAE, Gaussian NLL and the coverage of the 90%\n"
            "predictive interval, overall and by the user's number of training entries. Metrics are on\n"
            "the model scale (after the model's transform). Ids unseen in training are predicted from\n"
            "their group's prior or the population prior.");
  args.option("model", "", "model file", "FILE").option("data", "", "held-out entries", "FILE");
  add_read_options(args, true);
  add_group_options(args, " for ids unseen in training");
  args.option("json", "", "also write the metrics as JSON", "FILE");
  add_device_options(args, "auto");
  if (!args.parse(argc, argv)) return 0;
  if (!args.given("model") || !args.given("data")) throw Error("eval needs --model and --data");

  const Model model = load_model(args.str("model"));
  const Ratings table = load_table(args, args.str("data"), true);
  const auto user_groups = load_groups(args, "user-groups");
  const auto item_groups = load_groups(args, "item-groups");
  auto backend = open_backend(args);
  backend->load_model(model);
  const Predictions pred = predict_table(*backend, model, table, ptr(user_groups), ptr(item_groups));
  std::vector<float> observed(table.size());
  for (size_t k = 0; k < table.size(); ++k) observed[k] = to_model_scale(table.value[k], model.config.transform);
  const EvalReport report = evaluate(model, observed, pred);
  std::fputs(format_report_table(report).c_str(), stdout);
  if (args.given("json")) write_text_file(args.str("json"), format_report_json(report));
  return 0;
}

}  // namespace ppmf::cli
