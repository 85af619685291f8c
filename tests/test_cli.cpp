// The ppmf-gpu command line end to end on small generated files: train, eval, predict, info, synth,
// --help everywhere, and one clear line with a non-zero exit for each kind of bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "ppmf/split.hpp"
#include "test_util.hpp"

namespace ppmf {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

Json read_json(const std::string& path) {
  return Json::parse(testing::read_text(path));  // throws (failing the test) on invalid JSON
}

// The number after `label` in a printed report ("test_rmse    0.9123").
double printed_number(const std::string& out, const std::string& label) {
  const size_t at = out.find(label);
  return at == std::string::npos ? NAN : std::stod(out.substr(at + label.size()));
}

using CliRun = testing::ShellRun;

// `env` is prepended as shell assignments (NAME=value ...), empty for none.
CliRun run(const std::string& args, const std::string& env = "") {
  return testing::run_shell(env + (env.empty() ? "" : " ") + PPMF_CLI_PATH + " " + args);
}

size_t count_lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

void expect_one_line_error(const CliRun& r, const std::string& what);

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = testing::temp_path("cli_ratings.csv");
    write_ratings_csv(testing::planted_ratings(80, 50, 2, 12, 0.3, 3), data_);
  }
  static std::string data_;
};
std::string Cli::data_;

TEST_F(Cli, EverySubcommandHasHelpWithDefaults) {
  for (const char* cmd :
       {"train", "eval", "predict", "recommend", "foldin", "info", "synth", "devices", "bench"}) {
    const CliRun r = run(std::string(cmd) + " --help");
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr("usage: ppmf-gpu")) << cmd;
  }
  EXPECT_THAT(run("train --help").out, HasSubstr("(default: 0.05)"));
  EXPECT_EQ(run("--help").code, 0);
  EXPECT_NE(run("").code, 0);
}

TEST_F(Cli, TrainEvalPredictInfoEndToEnd) {
  const std::string model = testing::temp_path("cli.ppmf"), split = testing::temp_path("cli_split");
  const std::string metrics = testing::temp_path("cli_metrics.json");
  CliRun r = run("train --data " + data_ +
                 " --test-frac 0.2 --seed 3 --rank 4 --epochs 8 --device cpu --out " + model +
                 " --split-out " + split + " --metrics-json " + metrics);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("epoch   1"));
  EXPECT_THAT(r.out, HasSubstr("test_rmse"));
  const Json train = read_json(metrics);
  EXPECT_EQ(train["device"].get<std::string>().rfind("cpu", 0), 0u);
  ASSERT_EQ(train["epochs"].size(), train["epochs_run"].get<size_t>());
  const int kept = train["kept_epoch"].get<int>();
  ASSERT_GE(kept, 1);
  const Json& kept_epoch = train["epochs"][kept - 1];
  EXPECT_EQ(kept_epoch["epoch"].get<int>(), kept);
  EXPECT_NEAR(kept_epoch["test_rmse"].get<double>(), printed_number(r.out, "\ntest_rmse"), 1e-4);
  EXPECT_TRUE(train["epochs"][0]["valid_nll"].is_number()) << "validation on by default";
  EXPECT_EQ(train["refit"].get<bool>(), kept > train["chosen_epoch"].get<int>());

  r = run("eval --model " + model + " --data " + split + "/test.csv --json " + metrics);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("cover90"));
  EXPECT_THAT(r.out, HasSubstr("6-20"));
  const Json eval = read_json(metrics);
  EXPECT_EQ(eval["overall"]["n"].get<size_t>(),
            count_lines(testing::read_text(split + "/test.csv")) - 1);
  {
    std::istringstream all_row(r.out.substr(r.out.find("\nall") + 4));
    size_t n = 0;
    double rmse = 0;
    all_row >> n >> rmse;
    EXPECT_EQ(n, eval["overall"]["n"].get<size_t>());
    EXPECT_NEAR(rmse, eval["overall"]["rmse"].get<double>(), 1e-4);
  }
  size_t bucketed = 0;
  for (const auto& [name, m] : eval["by_user_history"].items()) bucketed += m["n"].get<size_t>();
  EXPECT_EQ(bucketed, eval["overall"]["n"].get<size_t>());
  EXPECT_EQ(eval["ranking"]["k"].get<int>(), 10);
  EXPECT_GT(eval["ranking"]["users"].get<size_t>(), 0u);

  const std::string pairs = testing::temp_path("cli_pairs.csv"),
                    preds = testing::temp_path("cli_preds.csv");
  testing::write_file(pairs, "user,item\nuser1,item2\nnobody,item3\nuser4,never-seen\n");
  r = run("predict --model " + model + " --pairs " + pairs + " --out " + preds);
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string csv = testing::read_text(preds);
  EXPECT_THAT(csv, HasSubstr("user,item,mean,sd,source\n"));
  EXPECT_THAT(csv, HasSubstr("user1,item2,"));
  EXPECT_THAT(csv, HasSubstr(",trained\n"));
  EXPECT_THAT(csv, HasSubstr("nobody,item3,"));
  EXPECT_THAT(csv, HasSubstr(",population\n"));
  EXPECT_THAT(csv, Not(HasSubstr("nan")));
  EXPECT_EQ(count_lines(csv), 4u);

  r = run("info --model " + model);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rank 4"));
  EXPECT_THAT(r.out, HasSubstr("users: 80"));
}

TEST_F(Cli, ServingNewUsersEndToEnd) {
  const std::string model = testing::temp_path("serve.ppmf"),
                    folded = testing::temp_path("serve2.ppmf");
  ASSERT_EQ(
      run("train --data " + data_ + " --rank 3 --epochs 6 --quiet --device cpu --out " + model)
          .code,
      0);
  const std::string history = testing::temp_path("serve_history.csv");
  testing::write_file(history,
                      "user,item,value\nnewcomer,item1,5\nnewcomer,item2,4.5\nuser3,item9,1\n");
  CliRun r = run("foldin --model " + model + " --data " + history + " --out " + folded);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("added 1 users, updated 1"));
  r = run("recommend --model " + folded + " --user newcomer --k 4");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("user,rank,item,score,mean,sd,watch,watch_sd\n"));
  EXPECT_THAT(r.out, HasSubstr("newcomer,4,"));
  EXPECT_THAT(r.out, Not(HasSubstr(",item1,"))) << "seen items are excluded";
  // The same on the fly, and Thompson draws are reproducible.
  const std::string a = run("recommend --model " + model + " --user newcomer --k 4 --history " +
                            history + " --explore thompson --seed 3")
                            .out;
  EXPECT_EQ(a, run("recommend --model " + model + " --user newcomer --k 4 --history " + history +
                   " --explore thompson --seed 3")
                   .out);
  EXPECT_THAT(a, Not(HasSubstr(",item2,")));
  const std::string pairs = testing::temp_path("serve_pairs.csv");
  testing::write_file(pairs, "user,item\nnewcomer,item5\n");
  r = run("predict --model " + model + " --pairs " + pairs + " --history " + history);
  EXPECT_THAT(r.out, HasSubstr("newcomer,item5,"));
  EXPECT_THAT(r.out, HasSubstr(",trained\n")) << "folded in on the fly";
  expect_one_line_error(run("recommend --model " + model), "one of --users FILE or --user ID");
}

TEST_F(Cli, GivenNProtocolAndBench) {
  const std::string json = testing::temp_path("given_n.json");
  CliRun r = run("eval --protocol given-n --data " + data_ +
                 " --n 0,2 --holdout-users 0.3 --rank 2 --epochs 4 --quiet "
                 "--device cpu --json " +
                 json);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("item-mean"));
  EXPECT_THAT(r.out, HasSubstr("unpooled"));
  const Json given = read_json(json);
  EXPECT_EQ(given["protocol"], "given-n");
  // pooled, pooled-plain, unpooled, item-mean and most-popular (ranking only), at N = 0 and 2,
  // under both target rules.
  ASSERT_EQ(given["rows"].size(), 20u);
  for (const Json& row : given["rows"]) {
    EXPECT_EQ(row["rmse"].is_number(), row["model"] != "most-popular") << row.dump();
    EXPECT_TRUE(row["recall"].is_number()) << row.dump();
    EXPECT_GT(row["users"].get<size_t>(), 0u) << row.dump();
  }
  EXPECT_EQ(given["objective"], "watch");
  // Every target relevant: more relevant targets than above the training mean, so other recalls
  // (the same models, the same lists), and every scored user ranked.
  const std::string given_n = "eval --protocol given-n --data " + data_ +
                              " --n 0,2 --holdout-users 0.3 --rank 2 --epochs 4 --quiet "
                              "--device cpu --json " + json;
  r = run(given_n + " --relevant all");
  ASSERT_EQ(r.code, 0) << r.out;
  const Json every = read_json(json);
  ASSERT_EQ(every["rows"].size(), given["rows"].size());
  size_t recalls_differ = 0;
  for (size_t k = 0; k < every["rows"].size(); ++k) {
    const Json& row = every["rows"][k];
    EXPECT_EQ(row["ranked_users"], row["users"]) << row.dump();
    recalls_differ += row["recall"] != given["rows"][k]["recall"];
  }
  EXPECT_GT(recalls_differ, 0u);
  // Lists by another objective: said in the table and the JSON.
  r = run(given_n + " --objective minutes");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("lists ranked by minutes"));
  EXPECT_EQ(read_json(json)["objective"], "minutes");
  expect_one_line_error(run(given_n + " --objective watch --no-watch"),
                        "objective: watch ranks by the watch model");
  const std::string bench_json = testing::temp_path("bench.json");
  r = run("bench --device cpu --users 300 --items 100 --nnz 5000 --rank 8,3 --repeats 1 "
          "--threads 1 --json " + bench_json);
  ASSERT_EQ(r.code, 0) << r.out;
  const Json bench = read_json(bench_json);
  ASSERT_EQ(bench.size(), 2u);
  EXPECT_EQ(bench[1]["rank"], 3);
  EXPECT_GT(bench[0]["user_sweep"]["entries_per_s"].get<double>(), 0);
  EXPECT_GT(bench[0]["watch_item_sweep"]["flops_per_s"].get<double>(), 0);
  EXPECT_THAT(r.out, HasSubstr("watch items"));
  EXPECT_THAT(r.out, HasSubstr("of peak"));
  EXPECT_THAT(r.out, HasSubstr("of copy"));
}

TEST_F(Cli, SynthWritesADataSetThatTrains) {
  const std::string dir = testing::temp_path("cli_synth");
  CliRun r = run("synth --out " + dir + " --users 500 --items 120 --seed 2");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* f : {"/ratings.csv", "/user_groups.csv", "/item_groups.csv", "/truth.csv"})
    EXPECT_GT(testing::read_text(dir + f).size(), 100u) << f;
  r = run("train --data " + dir + "/ratings.csv --user-groups " + dir +
          "/user_groups.csv --item-groups " + dir +
          "/item_groups.csv --transform log1p --epochs 3 --rank 4 --quiet --device cpu --out " +
          dir + "/m.ppmf");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("info --model " + dir + "/m.ppmf");
  EXPECT_THAT(r.out, HasSubstr("c00"));
  EXPECT_THAT(r.out, HasSubstr("transform log1p"));
}

// Each bad input: exit code 1 and exactly one line, starting "ppmf-gpu: error:".
void expect_one_line_error(const CliRun& r, const std::string& what) {
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(count_lines(r.out), 1u) << r.out;
  EXPECT_THAT(r.out, HasSubstr("ppmf-gpu: error: "));
  EXPECT_THAT(r.out, HasSubstr(what));
}

TEST_F(Cli, BadInputGivesOneClearLine) {
  const std::string bad = testing::temp_path("cli_bad.csv");
  testing::write_file(bad, "u1,i1,3\nu2,i2,abc\n");
  expect_one_line_error(run("train --data " + bad + " --quiet"), "cli_bad.csv:2");
  expect_one_line_error(run("train --data /nonexistent/x.csv"), "cannot open");
  expect_one_line_error(run("train --data " + data_ + " --rank zero"), "--rank");
  expect_one_line_error(run("train --data " + data_ + " --bogus 1"), "unknown option --bogus");
  expect_one_line_error(run("train --data " + data_ + " --transport tcp"),
                        "--transport: expected mpi or nccl");
  expect_one_line_error(run("train --data " + data_ + " --transport nccl --device cpu"),
                        "--transport: nccl needs a GPU");
  expect_one_line_error(run("train --data '" + testing::test_dir() + "/none*.csv'"),
                        "no file matches");
  expect_one_line_error(run("train --data " + data_ + " --device 0 --quiet"),
                        "--device: GPU 0 asked for");
  expect_one_line_error(run("train --data " + data_ + " --device gpu7"),
                        "--device: unknown device 'gpu7'");
  // Settings the library validates come back named by their flag.
  expect_one_line_error(run("train --data " + data_ + " --rank 2000"),
                        "--rank: must be an integer in [0, 1024], got 2000");
  expect_one_line_error(run("train --data " + data_ + " --prec-a0 0.5"), "--prec-a0: must be");
  expect_one_line_error(run("train --data " + data_ + " --valid-frac 0.95"), "--valid-frac: must be");
  expect_one_line_error(run("train --data " + data_ + " --transform log"),
                        "--transform: unknown transform 'log'");
  expect_one_line_error(run("train --data " + data_ + " --duplicates max"),
                        "--duplicates: unknown policy 'max'");
  expect_one_line_error(run("train --data " + data_ + " --threads -2 --device cpu"), "--threads: must be");
  expect_one_line_error(run("predict --model /nonexistent.ppmf --pairs " + bad), "cannot open");

  const std::string model = testing::temp_path("cli_corrupt.ppmf");
  ASSERT_EQ(
      run("train --data " + data_ + " --epochs 1 --rank 2 --quiet --device cpu --out " + model)
          .code,
      0);
  std::string bytes = testing::read_text(model);
  bytes[bytes.size() / 2] ^= 0x5A;
  testing::write_file(model, bytes);
  expect_one_line_error(run("info --model " + model), "corrupt");
  testing::write_file(model, bytes.substr(0, 30));
  expect_one_line_error(run("info --model " + model), "truncated");
}

// The CUDA plugin is loaded only for a GPU; a missing one, or one from another build, is named in one
// line for --device 0, and "auto" and "cpu" never need it.
TEST_F(Cli, CudaPluginProblemsAreClearErrors) {
  const std::string model = testing::temp_path("cli_plugin.ppmf");
  const std::string train = "train --data " + data_ + " --epochs 1 --rank 2 --quiet --out " + model;
  const char* expected = PPMF_WITH_CUDA ? "cannot load the CUDA plugin /nonexistent/plugin.so"
                                        : "this build has no CUDA support";
  const std::string missing = "PPMF_CUDA_PLUGIN=/nonexistent/plugin.so";
  expect_one_line_error(run(train + " --device 0", missing), expected);
  expected = PPMF_WITH_CUDA ? "belongs to another build (0.0.0+another-build"
                            : "this build has no CUDA support";
  expect_one_line_error(
      run(train + " --device 0", "PPMF_CUDA_PLUGIN=" + std::string(PPMF_FAKE_PLUGIN)), expected);
  for (const char* device : {"cpu", "auto"})
    EXPECT_EQ(run(train + " --device " + device, missing).code, 0) << device;
}

TEST_F(Cli, TrainsOnBuiltInDataWithoutArguments) {
  // The README's first command runs this with the defaults; here fewer epochs and fixed watch
  // weights (no search) keep the test short, also under the sanitizers.
  const std::string model = testing::temp_path("cli_builtin.ppmf");
  const CliRun r = run("train --epochs 2 --watch-epochs 2 --watch-alpha 8 --watch-zero-weight 8 "
                       "--device cpu --out " + model);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("no --data given"));
  EXPECT_THAT(r.out, HasSubstr("test_rmse"));
}

TEST_F(Cli, OutputsNeverOverwriteInputs) {
  namespace fs = std::filesystem;
  const std::string dir = testing::test_dir();
  const std::string ratings = dir + "/ratings.csv", model = dir + "/m.ppmf";
  fs::copy_file(data_, ratings);
  fs::create_symlink(ratings, dir + "/link.csv");
  const std::string original = testing::read_text(ratings);
  ASSERT_EQ(run("train --data " + ratings + " --rank 2 --epochs 2 --quiet --device cpu --out " +
                model).code, 0);
  const std::string trained = testing::read_text(model);
  const std::string users = dir + "/users.txt";
  testing::write_file(users, "user1\nuser2\n");
  const std::string train = "train --rank 2 --epochs 2 --quiet --device cpu ";
  const std::string refusal = ": refusing to overwrite an input";
  for (const auto& [args, what] : std::vector<std::pair<std::string, std::string>>{
           {train + "--data " + ratings + " --out " + ratings,
            "--out " + ratings + " is the same file as --data " + ratings + refusal},
           // Links and other spellings of one file count.
           {train + "--data " + dir + "/link.csv --out " + dir + "/./ratings.csv",
            "is the same file as --data " + dir + "/link.csv"},
           {train + "--data " + ratings + " --out " + dir + "/x.ppmf --test " + model +
                " --metrics-json " + model,
            "--metrics-json " + model + " is the same file as --test " + model},
           {train + "--data " + ratings + " --warm-start " + model + " --checkpoint " + model,
            "--checkpoint " + model + " is the same file as --warm-start"},
           {train + "--data " + ratings + " --out " + dir + "/o.ppmf --metrics-json " + dir +
                "/o.ppmf",
            "--out and --metrics-json name the same file"},
           {train + "--data " + ratings + " --out " + model + " --checkpoint " + model,
            "--out and --checkpoint name the same file"},
           {"predict --model " + model + " --pairs " + ratings + " --out " + ratings,
            "--out " + ratings + " is the same file as --pairs"},
           {"predict --model " + model + " --pairs " + ratings + " --out " + model,
            "is the same file as --model"},
           {"recommend --model " + model + " --users " + users + " --out " + users,
            "is the same file as --users"},
           {"foldin --model " + model + " --data " + ratings + " --out " + ratings,
            "is the same file as --data"},
           {"eval --model " + model + " --data " + ratings + " --json " + ratings,
            "--json " + ratings + " is the same file as --data"},
       }) {
    SCOPED_TRACE(args);
    expect_one_line_error(run(args), what);
  }
  // --split-out over the data is refused before anything is written.
  fs::copy_file(data_, dir + "/train.csv");
  expect_one_line_error(run(train + "--data " + dir + "/train.csv --split-out " + dir),
                        "--split-out " + dir + "/train.csv is the same file as --data");
  EXPECT_EQ(testing::read_text(ratings), original);
  EXPECT_EQ(testing::read_text(users), "user1\nuser2\n");
  EXPECT_EQ(testing::read_text(model), trained);

  // Replacing a model in place stays allowed: the nightly warm start, and folding in.
  CliRun r = run(train + "--data " + ratings + " --warm-start " + model + " --out " + model);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(testing::read_text(model), trained);
  r = run("foldin --model " + model + " --data " + ratings + " --out " + model);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(run("info --model " + model).code, 0);
  const std::set<std::string> expected{"ratings.csv", "link.csv", "m.ppmf", "users.txt",
                                       "train.csv"};
  std::set<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) left.insert(e.path().filename().string());
  EXPECT_EQ(left, expected) << "no temporary or partial file is left";
}

// ppmf-gpu started in the background with its output in `log`.
pid_t spawn(const std::string& args, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<std::string> words{PPMF_CLI_PATH};
  std::istringstream in(args);
  for (std::string w; in >> w;) words.push_back(w);
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, PPMF_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

int exit_code(pid_t pid) {
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

bool wait_for_file(const std::string& path) {
  for (int k = 0; k < 6000; ++k, std::this_thread::sleep_for(std::chrono::milliseconds(10)))
    if (std::filesystem::exists(path)) return true;
  return false;
}

// SIGINT and SIGTERM stop training at the next step with one line saying what was kept, exit
// 130 / 143 and leave no temporary file; --resume then ends with the uninterrupted run's model.
TEST_F(Cli, InterruptedTrainingResumesToTheSameModel) {
  namespace fs = std::filesystem;
  const std::string dir = testing::test_dir();
  ASSERT_EQ(run("synth --out " + dir + "/data --users 6000 --items 1500 --seed 5").code, 0);
  const std::string train = "train --data " + dir +
                            "/data/ratings.csv --rank 6 --epochs 40 --patience 0 --device cpu "
                            "--transform log1p --checkpoint-every 2 ";
  const std::string whole = dir + "/whole.ppmf";
  ASSERT_EQ(run(train + "--quiet --out " + whole).code, 0);

  for (const int sig : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(sig);
    const std::string ckpt = dir + "/run.ckpt", log = dir + "/log.txt", out = dir + "/part.ppmf";
    fs::remove(ckpt);
    const pid_t pid = spawn(train + "--checkpoint " + ckpt + " --out " + out, log);
    ASSERT_TRUE(wait_for_file(ckpt)) << testing::read_text(log);
    kill(pid, sig);
    EXPECT_EQ(exit_code(pid), 128 + sig);
    const std::string printed = testing::read_text(log);
    EXPECT_THAT(printed, ::testing::MatchesRegex(
                             "(.|\n)*ppmf-gpu: training interrupted during epoch [0-9]+; the "
                             "checkpoint .*run.ckpt holds epoch [0-9]*[02468]\n"))
        << printed;
    EXPECT_FALSE(fs::exists(out));
    CliRun r = run(train + "--quiet --resume " + ckpt + " --out " + out);
    ASSERT_EQ(r.code, 0) << r.out;
    // Equal predictions from every parameter; the files differ only in per-epoch timings.
    const std::string pairs = dir + "/data/ratings.csv";
    EXPECT_EQ(run("predict --model " + whole + " --pairs " + pairs).out,
              run("predict --model " + out + " --pairs " + pairs).out);
    fs::remove(out);
  }
  // A second signal exits at once; either way no temporary file is left.
  const std::string ckpt = dir + "/twice.ckpt";
  const pid_t pid = spawn(train + "--checkpoint " + ckpt + " --out " + dir + "/twice.ppmf",
                          dir + "/log.txt");
  ASSERT_TRUE(wait_for_file(ckpt));
  kill(pid, SIGINT);
  kill(pid, SIGINT);
  EXPECT_EQ(exit_code(pid), 130);
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_THAT(e.path().filename().string(), Not(HasSubstr(".tmp."))) << "left behind";
  // Another run's checkpoint is refused with the reason.
  expect_one_line_error(run(train + "--quiet --seed 9 --resume " + ckpt),
                        "cannot resume this run: the checkpoint's seed is 1, this run's 9");
}

}  // namespace
}  // namespace ppmf
