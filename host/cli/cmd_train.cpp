// ppmf-gpu train: read (or generate) data, split, train, write the model.

#include <cstdio>

#include "cli/common.hpp"
#include "ppmf/csv_writer.hpp"
#include "ppmf/model_file.hpp"
#include "ppmf/scheduler.hpp"
#include "ppmf/split.hpp"
#include "ppmf/synth.hpp"

namespace ppmf::cli {
namespace {

std::string metrics_json(const Model& m) {
  std::string out = "{\n  \"best_epoch\": " + std::to_string(m.best_epoch) + ",\n  \"epochs\": [";
  char buf[600];
  auto opt = [](bool has, double v) { return has ? std::to_string(v) : std::string("null"); };
  for (size_t k = 0; k < m.history.size(); ++k) {
    const EpochMetrics& e = m.history[k];
    std::snprintf(buf, sizeof buf,
                  "%s\n    {\"epoch\": %d, \"elbo_per_entry\": %.8g, \"train_rmse\": %.8g, "
                  "\"valid_rmse\": %s, \"valid_nll\": %s, \"test_rmse\": %s, \"test_nll\": %s, "
                  "\"sigma\": %.8g, \"entries_per_s\": %.6g, \"seconds\": %.6g}",
                  k ? "," : "", e.epoch, e.elbo_per_entry, e.train_rmse,
                  opt(e.has_valid, e.valid_rmse).c_str(), opt(e.has_valid, e.valid_nll).c_str(),
                  opt(e.has_test, e.test_rmse).c_str(), opt(e.has_test, e.test_nll).c_str(),
                  e.sigma, e.entries_per_s, e.seconds);
    out += buf;
  }
  return out + "\n  ]\n}\n";
}

}  // namespace

int cmd_train(int argc, char** argv) {
  Args args(
      "train", "[--data FILE] [options]",
      "Trains a pooled PMF model by variational inference with exact row updates: each epoch sets\n"
      "every user, then every item, to its exact Gaussian posterior given the other side, then\n"
      "updates the pooled priors and the noise. --valid-frac of the entries (chosen by a hash of\n"
      "their ids) chooses the epoch to keep; --test is only reported. Without --data, generates\n"
      "an AVOD-like data set (20,000 users in channels, 4,000 videos in genres, minutes watched)\n"
      "and trains on it with groups, log1p transform and a 10% held-out split.");
  args.option("data", "", "ratings file: delimited text (comma, tab, '::', whitespace), .gz ok",
              "FILE");
  add_read_options(args, true);
  args.option("test", "", "held-out entries (same format as --data)", "FILE")
      .option("test-frac", "0",
              "hold out this fraction of --data at random (0.1 for the built-in data)", "F")
      .option("split-out", "", "write the split as DIR/train.csv and DIR/test.csv", "DIR");
  add_group_options(args, " (absent ids go to group 'default')");
  add_training_options(args, "none");
  args.option("warm-start", "",
              "start from this model: known ids from their posteriors, new ids from their group\n"
              "                            prior, the hyperparameters from the old model",
              "FILE");
  add_device_options(args, "auto");
  args.option("out", "model.ppmf", "model file to write", "FILE")
      .option("metrics-json", "", "write per-epoch metrics as JSON", "FILE");
  if (!args.parse(argc, argv)) return 0;

  ModelConfig config = model_config_from(args);
  TrainConfig train_config = train_config_from(args);
  double test_frac = args.real("test-frac", 0, 0.99);
  if (args.given("test") && test_frac > 0)
    throw Error("give either --test or --test-frac, not both");

  Ratings all;
  std::optional<GroupFile> user_groups = load_groups(args, "user-groups");
  std::optional<GroupFile> item_groups = load_groups(args, "item-groups");
  if (args.given("data")) {
    all = load_table(args, args.str("data"), true);
  } else {
    SynthConfig sc;
    sc.users = 20000;
    sc.items = 4000;
    sc.seed = train_config.seed;
    SynthData synth = generate_synth(sc);
    std::fprintf(stderr,
                 "no --data given: training on generated AVOD-like data (%d users in %d channels, "
                 "%d videos in "
                 "%d genres, %zu views; 'ppmf-gpu synth' writes such a set)\n",
                 sc.users, sc.channels, sc.items, sc.genres, synth.ratings.size());
    all = std::move(synth.ratings);
    if (!user_groups) user_groups = std::move(synth.user_groups);
    if (!item_groups) item_groups = std::move(synth.item_groups);
    if (!args.given("transform")) config.transform = Transform::kLog1p;
    if (!args.given("test-frac") && !args.given("test")) test_frac = 0.1;
  }

  Ratings train_part, test_part;
  const Ratings* test = nullptr;
  if (args.given("test")) {
    test_part = load_table(args, args.str("test"), true);
    test = &test_part;
    train_part = std::move(all);
  } else if (test_frac > 0) {
    Split split = split_random(all, test_frac, train_config.seed);
    train_part = std::move(split.train);
    test_part = std::move(split.test);
    test = &test_part;
  } else {
    train_part = std::move(all);
  }
  if (args.given("split-out")) {
    ensure_directory(args.str("split-out"));
    write_ratings_csv(train_part, args.str("split-out") + "/train.csv");
    if (test) write_ratings_csv(*test, args.str("split-out") + "/test.csv");
  }

  auto backend = open_backend(args);
  if (!train_config.quiet)
    std::fprintf(
        stderr,
        "training on %zu entries (%zu users, %zu items), %zu held out; rank %d, %s, device %s\n",
        train_part.size(), train_part.users.size(), train_part.items.size(),
        test ? test->size() : 0, config.rank, config.pool ? "pooled" : "unpooled",
        backend->name().c_str());
  TrainInputs inputs;
  inputs.train = &train_part;
  inputs.test = test;
  inputs.user_groups = ptr(user_groups);
  inputs.item_groups = ptr(item_groups);
  std::optional<Model> warm;
  if (args.given("warm-start")) warm = load_model(args.str("warm-start"));
  inputs.warm_start = warm ? &*warm : nullptr;
  const Model model = train(inputs, config, train_config, *backend);
  save_model(model, args.str("out"));
  if (args.given("metrics-json")) write_text_file(args.str("metrics-json"), metrics_json(model));

  // The epoch validation chose (the finishing epochs on all entries, if any, come after it).
  const EpochMetrics& kept = model.history[model.best_epoch - 1];
  const EpochMetrics* chosen = nullptr;
  for (const EpochMetrics& e : model.history)
    if (e.has_valid && (chosen == nullptr || e.valid_nll < chosen->valid_nll)) chosen = &e;
  std::printf("model        %s\n", args.str("out").c_str());
  std::printf("entries      %zu train, %zu held out\n", model.n_train, test ? test->size() : 0);
  std::printf("epochs       %zu run, kept %d", model.history.size(), model.best_epoch);
  if (chosen != nullptr && chosen->epoch != kept.epoch)
    std::printf(" (%d epochs chosen on validation, then refit on all entries)", chosen->epoch);
  std::printf("\ntrain_rmse   %.4f\n", kept.train_rmse);
  if (chosen != nullptr)
    std::printf("valid_rmse   %.4f\nvalid_nll    %.4f\n", chosen->valid_rmse, chosen->valid_nll);
  if (kept.has_test)
    std::printf("test_rmse    %.4f\ntest_nll     %.4f\n", kept.test_rmse, kept.test_nll);
  std::printf("sigma        %.4f\n", kept.sigma);
  return 0;
}

}  // namespace ppmf::cli
