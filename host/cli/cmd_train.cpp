// ppmf-gpu train: read (or generate) data, split, train, write the model.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

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
  char buf[400];
  for (size_t k = 0; k < m.history.size(); ++k) {
    const EpochMetrics& e = m.history[k];
    std::snprintf(buf, sizeof buf,
                  "%s\n    {\"epoch\": %d, \"elbo_per_entry\": %.8g, \"train_rmse\": %.8g, \"test_rmse\": %s, "
                  "\"test_nll\": %s, \"sigma\": %.8g, \"entries_per_s\": %.6g, \"seconds\": %.6g}",
                  k ? "," : "", e.epoch, e.elbo_per_entry, e.train_rmse,
                  e.has_test ? std::to_string(e.test_rmse).c_str() : "null",
                  e.has_test ? std::to_string(e.test_nll).c_str() : "null", e.sigma, e.entries_per_s, e.seconds);
    out += buf;
  }
  return out + "\n  ]\n}\n";
}

void make_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST)
    throw Error(dir + ": cannot create directory: " + std::strerror(errno));
}

}  // namespace

int cmd_train(int argc, char** argv) {
  const ModelConfig mc;
  const TrainConfig tc;
  Args args("train", "[--data FILE] [options]",
            "Trains a pooled PMF model by mini-batch SVI. Without --data, generates an AVOD-like data set\n"
            "(20,000 users in channels, 4,000 videos in genres, minutes watched) and trains on it with\n"
            "groups, log1p transform and a 10% held-out split.");
  args.option("data", "", "ratings file: delimited text (comma, tab, '::', whitespace), .gz ok", "FILE");
  add_read_options(args, true);
  args.option("test", "", "held-out entries (same format as --data)", "FILE")
      .option("test-frac", "0", "hold out this fraction of --data at random (0.1 for the built-in data)", "F")
      .option("split-out", "", "write the split as DIR/train.csv and DIR/test.csv", "DIR");
  add_group_options(args, " (absent ids go to group 'default')");
  args.option("transform", "none", "value transform: none|log1p (log1p for watch time; log1p for built-in data)", "T")
      .option("rank", num(mc.rank), "number of latent factors d (0 = a biases-only model)", "D")
      .flag("no-pool", "unpooled baseline: fixed N(0,1) priors, no hyperparameter updates")
      .option("tau", num(mc.tau), "sd of group means around the population mean", "X")
      .option("prec-a0", num(mc.prec_a0), "Gamma shape on prior precisions (>= 1)", "X")
      .option("prec-b0", num(mc.prec_b0), "Gamma rate on prior precisions", "X")
      .option("init-sd", num(mc.init_sd), "initial sd of guide means and scales", "X")
      .option("epochs", num(tc.epochs), "maximum epochs", "N")
      .option("batch-size", num(tc.batch_size), "entries per mini-batch (0 = full batch)", "N")
      .option("lr", num(tc.lr), "Adam learning rate", "X")
      .option("lr-decay", num(tc.lr_decay), "learning-rate factor per epoch", "X")
      .option("patience", num(tc.patience), "early stop after N epochs without held-out NLL gain (0 = off)", "N")
      .option("pool-warmup", num(tc.pool_warmup), "first epoch with pooling updates", "N")
      .option("seed", num(tc.seed), "random seed (split, init, batches)", "S");
  add_device_options(args, "auto");
  args.option("out", "model.ppmf", "model file to write", "FILE")
      .option("metrics-json", "", "write per-epoch metrics as JSON", "FILE")
      .flag("quiet", "no per-epoch lines on stderr");
  if (!args.parse(argc, argv)) return 0;

  ModelConfig config;
  config.rank = static_cast<int>(args.integer("rank", 0, 1024));
  config.transform = parse_transform(args.str("transform"));
  config.pool = !args.given("no-pool");
  config.tau = static_cast<float>(args.real("tau", 1e-6, 1e6));
  config.prec_a0 = static_cast<float>(args.real("prec-a0", 1, 1e9));
  config.prec_b0 = static_cast<float>(args.real("prec-b0", 1e-9, 1e9));
  config.init_sd = static_cast<float>(args.real("init-sd", 1e-6, 10));
  TrainConfig train_config;
  train_config.epochs = static_cast<int>(args.integer("epochs", 1, 1000000));
  train_config.batch_size = static_cast<size_t>(args.integer("batch-size", 0, 1LL << 40));
  train_config.lr = static_cast<float>(args.real("lr", 1e-9, 10));
  train_config.lr_decay = static_cast<float>(args.real("lr-decay", 1e-3, 1));
  train_config.patience = static_cast<int>(args.integer("patience", 0, 1000000));
  train_config.pool_warmup = static_cast<int>(args.integer("pool-warmup", 0, 1000000));
  train_config.seed = static_cast<uint64_t>(args.integer("seed", 0, (1LL << 62)));
  train_config.threads = static_cast<int>(args.integer("threads", 0, 1024));
  train_config.quiet = args.given("quiet");
  double test_frac = args.real("test-frac", 0, 0.99);
  if (args.given("test") && test_frac > 0) throw Error("give either --test or --test-frac, not both");

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
                 "no --data given: training on generated AVOD-like data (%d users in %d channels, %d videos in "
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
    make_dir(args.str("split-out"));
    write_ratings_csv(train_part, args.str("split-out") + "/train.csv");
    if (test) write_ratings_csv(*test, args.str("split-out") + "/test.csv");
  }

  auto backend = open_backend(args);
  if (!train_config.quiet)
    std::fprintf(stderr, "training on %zu entries (%zu users, %zu items), %zu held out; rank %d, %s, device %s\n",
                 train_part.size(), train_part.users.size(), train_part.items.size(), test ? test->size() : 0,
                 config.rank, config.pool ? "pooled" : "unpooled", backend->name().c_str());
  TrainInputs inputs;
  inputs.train = &train_part;
  inputs.test = test;
  inputs.user_groups = ptr(user_groups);
  inputs.item_groups = ptr(item_groups);
  const Model model = train(inputs, config, train_config, *backend);
  save_model(model, args.str("out"));
  if (args.given("metrics-json")) write_text_file(args.str("metrics-json"), metrics_json(model));

  const EpochMetrics& best = model.history[model.best_epoch - 1];
  std::printf("model        %s\n", args.str("out").c_str());
  std::printf("entries      %zu train, %zu held out\n", model.n_train, test ? test->size() : 0);
  std::printf("epochs       %zu run, best %d\n", model.history.size(), model.best_epoch);
  std::printf("train_rmse   %.4f\n", best.train_rmse);
  if (best.has_test) std::printf("test_rmse    %.4f\ntest_nll     %.4f\n", best.test_rmse, best.test_nll);
  std::printf("sigma        %.4f\n", best.sigma);
  return 0;
}

}  // namespace ppmf::cli
