// ppmf-gpu train: read (or generate) data, split, train, write the model.

#include <algorithm>
#include <cstdio>

#include "cli/common.hpp"
#include "cli/train_log.hpp"
#include "ppmf/csv_writer.hpp"
#include "ppmf/distributed.hpp"
#include "ppmf/json.hpp"
#include "ppmf/model_file.hpp"
#include "ppmf/scheduler.hpp"
#include "ppmf/split.hpp"
#include "ppmf/synth.hpp"

namespace ppmf::cli {
namespace {

void print_summary(const std::string& path, const TrainResult& r) {
  const TrainReport& rep = r.report;
  std::printf("model        %s\n", path.c_str());
  std::printf("entries      %zu train", rep.train_entries);
  if (rep.valid_entries > 0 && !rep.refit) std::printf(", %zu validation", rep.valid_entries);
  std::printf(", %zu held out\n", rep.test_entries);
  std::printf("epochs       %d run, kept %d", rep.epochs_run, rep.kept.epoch);
  if (rep.refit)
    std::printf(" (%d epochs chosen on validation, then refit on all entries)", rep.chosen_epoch);
  std::printf("\ntrain_rmse   %.4f\n", rep.kept.train_rmse);
  if (rep.chosen_epoch > 0)
    std::printf("valid_rmse   %.4f\nvalid_nll    %.4f\n", rep.chosen.valid_rmse,
                rep.chosen.valid_nll);
  if (rep.kept.has_test)
    std::printf("test_rmse    %.4f\ntest_nll     %.4f\n", rep.kept.test_rmse, rep.kept.test_nll);
  std::printf("sigma        %.4f\n", rep.kept.sigma);
  if (!rep.transport.empty()) {
    const double epochs = std::max(1, rep.comm_epochs);
    std::printf("ranks        %d (%s): rank 0 spent %.3f s per epoch in collectives (%.3f s "
                "waiting for other ranks) and sent %.2f MB\n",
                rep.ranks, rep.transport.c_str(), rep.epoch_comm.seconds / epochs,
                rep.epoch_comm.wait_seconds / epochs,
                static_cast<double>(rep.epoch_comm.bytes) / epochs / 1e6);
  }
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
      "and trains on it with groups, log1p transform and a 10% held-out split.\n"
      "\n"
      "Under mpirun (a build with MPI), the ranks train one model together: each reads a share\n"
      "of the --data files, owns the users whose ids hash to it, and rank 0 writes the model\n"
      "(and prints); --device auto gives rank r the GPU r mod (the node's GPUs), or the CPU.\n"
      "Checkpoints are one file per rank (FILE.rank-R-of-P).");
  args.option("data", "",
              "ratings: delimited text (comma, tab, '::', whitespace), .gz ok; several files as a\n"
              "                            comma-separated list and/or glob patterns ('parts/*.csv.gz')",
              "FILES");
  add_read_options(args, true);
  args.option("test", "", "held-out entries (same format as --data, files or patterns)", "FILES")
      .option("test-frac", "0",
              "hold out this fraction of --data, chosen by a hash of the (user, item) ids and\n"
              "                            the seed (0.1 for the built-in data)",
              "F")
      .option("split-out", "", "write the split as DIR/train.csv and DIR/test.csv", "DIR");
  add_group_options(args, " (absent ids go to group 'default')");
  add_training_options(args, "none");
  args.option("warm-start", "",
              "start from this model: known ids from their posteriors, new ids from their group\n"
              "                            prior, the hyperparameters from the old model (its watch\n"
              "                            part too when of the same watch rank, with its watch\n"
              "                            weights unless given; one given: their ratio kept)",
              "FILE");
  add_device_options(args, "auto");
  args.option("transport", "mpi",
              "between the ranks: mpi, or nccl (GPU to GPU, one GPU per rank; without mpirun, a\n"
              "                            one-rank NCCL run on --device)",
              "T");
  args.option("out", "model.ppmf", "model file to write (may equal --warm-start)", "FILE")
      .option("metrics-json", "", "write per-epoch metrics as JSON", "FILE")
      .option("checkpoint", "",
              "write the run's state here (atomically) every --checkpoint-every epochs and at the\n"
              "                            end, for --resume (default with --resume: that file)",
              "FILE")
      .option("checkpoint-every", num(TrainConfig{}.checkpoint_every),
              "epochs between checkpoints", "N")
      .option("resume", "",
              "continue the run saved in this checkpoint; give the same data and settings: the\n"
              "                            model is the one the uninterrupted run makes (bit for "
              "bit on the CPU)",
              "FILE");
  if (!args.parse(argc, argv)) return 0;
  check_paths(args, {"data", "test", "user-groups", "item-groups", "warm-start", "resume"},
              {"out", "metrics-json", "checkpoint", "split-out/train.csv", "split-out/test.csv"},
              {{"warm-start", "out"}, {"resume", "checkpoint"}});

  ModelConfig config = model_config_from(args);
  TrainConfig train_config = train_config_from(args);
  train_config.checkpoint = args.given("checkpoint") ? args.str("checkpoint") : args.str("resume");
  train_config.checkpoint_every = args.int_value("checkpoint-every");
  validate(train_config);
  if (args.str("transport") != "mpi" && args.str("transport") != "nccl")
    throw ConfigError("transport", "expected mpi or nccl, got '" + args.str("transport") + "'");
  Comm* comm = run_comm();
  const bool quiet = args.given("quiet") || !is_rank_zero();
  if (comm && args.given("split-out"))
    throw Error("--split-out is not available under mpirun (each rank holds only its users)");
  double test_frac = args.real("test-frac", 0, 0.99);
  if (args.given("test") && test_frac > 0)
    throw Error("give either --test or --test-frac, not both");

  Ratings all;
  std::optional<GroupFile> user_groups = load_groups(args, "user-groups");
  std::optional<GroupFile> item_groups = load_groups(args, "item-groups");
  // Under mpirun each rank reads its share of the files and keeps its users' entries.
  const auto read = [&](const std::string& option) {
    if (!comm) return load_table(args, args.str(option), true);
    ReadReport rep;
    // Rank 0's expansion of the patterns is the one used (read_distributed).
    Ratings r = read_distributed(*comm,
                                 comm->rank() == 0 ? expand_data_paths(args.str(option))
                                                   : std::vector<std::string>{},
                                 read_options(args, true), &rep, option == "data");
    if (rep.bad_lines_skipped > 0)
      std::fprintf(stderr, "rank %d: skipped %zu bad line(s) of --%s\n", comm->rank(),
                   rep.bad_lines_skipped, option.c_str());
    return r;
  };
  if (args.given("data")) {
    all = read("data");
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
    if (comm) all = owned_entries(all, *comm);
  }

  Ratings train_part, test_part;
  const Ratings* test = nullptr;
  if (args.given("test")) {
    test_part = read("test");
    test = &test_part;
    train_part = std::move(all);
  } else if (test_frac > 0) {
    Split split = split_by_hash(all, test_frac, train_config.seed ^ kTestSplitSalt);
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

  // With NCCL, the backend and the transport use the same GPU, resolved once.
  const bool over_nccl = args.str("transport") == "nccl";
  const DeviceSpec device = device_spec(args, over_nccl);
  if (over_nccl && device.kind != DeviceSpec::kGpu)
    throw ConfigError("transport", "nccl needs a GPU per rank (--device auto found none here, or "
                                   "--device cpu was given)");
  auto backend = open_backend(device);
  std::unique_ptr<Comm> nccl;
  if (over_nccl) {
    nccl = make_nccl_comm(device.gpu, comm);  // over MPI's ranks, or one rank
    comm = nccl.get();
  }
  // Load balance: users are shared out by a hash of their ids, so entries per rank vary.
  const int64_t fewest = comm ? comm->min(static_cast<int64_t>(train_part.size())) : 0;
  const int64_t most = comm ? -comm->min(-static_cast<int64_t>(train_part.size())) : 0;
  if (!quiet) {
    if (comm)
      std::fprintf(stderr, "%d ranks (%s), %lld to %lld training entries each; rank 0: ",
                   comm->size(), comm->transport().c_str(), static_cast<long long>(fewest),
                   static_cast<long long>(most));
    std::fprintf(
        stderr,
        "training on %zu entries (%zu users, %zu items), %zu held out; rank %d, %s, device %s\n",
        train_part.size(), train_part.users.size(), train_part.items.size(),
        test ? test->size() : 0, config.rank, config.pool ? "pooled" : "unpooled",
        backend->name().c_str());
  }
  TrainInputs inputs;
  inputs.train = &train_part;
  inputs.test = test;
  inputs.user_groups = ptr(user_groups);
  inputs.item_groups = ptr(item_groups);
  std::optional<Model> warm;
  if (args.given("warm-start")) warm = load_model(args.str("warm-start"));
  inputs.warm_start = warm ? &*warm : nullptr;
  inputs.resume_from = args.str("resume");
  inputs.comm = comm;
  const TrainResult result = train(inputs, config, train_config, *backend, train_log(quiet));
  if (!is_rank_zero()) return 0;  // rank 0 holds the whole model
  save_model(result.model, args.str("out"));
  if (args.given("metrics-json"))
    write_text_file(args.str("metrics-json"), to_json(result.report, result.model.history));
  print_summary(args.str("out"), result);
  return 0;
}

}  // namespace ppmf::cli
