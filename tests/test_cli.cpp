// The ppmf-gpu command line end to end on small generated files: train, eval, predict, info, synth,
// --help everywhere, and one clear line with a non-zero exit for each kind of bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

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

struct CliRun {
  int code;
  std::string out;  // stdout and stderr together
};

// `env` is prepended as shell assignments (NAME=value ...), empty for none.
CliRun run(const std::string& args, const std::string& env = "") {
  const std::string cmd = env + (env.empty() ? "" : " ") + PPMF_CLI_PATH + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
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
  EXPECT_THAT(r.out, HasSubstr("user,rank,item,score,mean,sd\n"));
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
  // pooled, pooled-plain, unpooled and item-mean, at N = 0 and 2, under both target rules.
  ASSERT_EQ(given["rows"].size(), 16u);
  for (const Json& row : given["rows"]) {
    EXPECT_TRUE(row["rmse"].is_number()) << row.dump();
    EXPECT_GT(row["users"].get<size_t>(), 0u) << row.dump();
  }
  const std::string bench_json = testing::temp_path("bench.json");
  r = run("bench --device cpu --users 300 --items 100 --nnz 5000 --rank 8,3 --repeats 1 "
          "--threads 1 --json " + bench_json);
  ASSERT_EQ(r.code, 0) << r.out;
  const Json bench = read_json(bench_json);
  ASSERT_EQ(bench.size(), 2u);
  EXPECT_EQ(bench[1]["rank"], 3);
  EXPECT_GT(bench[0]["user_sweep"]["entries_per_s"].get<double>(), 0);
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
  // The README's first command runs this with the defaults; here fewer epochs keep the test short.
  const std::string model = testing::temp_path("cli_builtin.ppmf");
  const CliRun r = run("train --epochs 2 --device cpu --out " + model);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("no --data given"));
  EXPECT_THAT(r.out, HasSubstr("test_rmse"));
}

}  // namespace
}  // namespace ppmf
