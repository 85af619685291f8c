// Distributed training through mpirun and the CLI (built when MPI is found): one rank writes the
// single-process model, two and three ranks reach its accuracy and repeat bit for bit, and a bad
// file on one rank stops every rank with one line naming it, leaving no model file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ppmf/model_file.hpp"
#include "test_util.hpp"

namespace ppmf {
namespace {

// Open MPI's own allocations outlive MPI_Finalize, so a sanitizer build's leak check (not its
// other checks) is off in the ranks; the thread-transport tests cover the same code with it on.
std::string mpirun(int ranks) {
  std::string cmd = "ASAN_OPTIONS=detect_leaks=0 " + std::string(PPMF_MPIEXEC) + " -x ASAN_OPTIONS -np " +
                    std::to_string(ranks) + " --oversubscribe";
  if (::geteuid() == 0) cmd += " --allow-run-as-root";
  return cmd + " ";
}

class Mpi : public ::testing::Test {
 protected:
  // Generated data with groups, in three files of uneven sizes, and a held-out file.
  static void SetUpTestSuite() {
    dir_ = testing::test_dir();
    const auto r = testing::run_shell(std::string(PPMF_CLI_PATH) + " synth --out " + dir_ +
                                      "/synth --users 3000 --items 400 --seed 3");
    ASSERT_EQ(r.code, 0) << r.out;
    std::ifstream in(dir_ + "/synth/ratings.csv");
    std::string header, line;
    std::getline(in, header);
    std::vector<std::string> lines;
    while (std::getline(in, line)) lines.push_back(line);
    const size_t cuts[] = {0, lines.size() * 5 / 10, lines.size() * 7 / 10, lines.size() * 9 / 10,
                           lines.size()};
    const char* names[] = {"/a.csv", "/b.csv", "/c.csv", "/test.csv"};
    for (int f = 0; f < 4; ++f) {
      std::ofstream out(dir_ + names[f]);
      out << header << '\n';
      for (size_t k = cuts[f]; k < cuts[f + 1]; ++k) out << lines[k] << '\n';
    }
  }
  static std::string train_args(const std::string& out) {
    return " train --data '" + dir_ + "/[abc].csv' --test " + dir_ + "/test.csv --user-groups " +
           dir_ + "/synth/user_groups.csv --item-groups " + dir_ +
           "/synth/item_groups.csv --transform log1p --rank 6 --epochs 20 --watch-epochs 2 "
           "--threads 1 --seed 5 --out " + dir_ + "/" + out;
  }
  static Model model(const std::string& name) { return load_model(dir_ + "/" + name); }
  static std::string dir_;
};
std::string Mpi::dir_;

double test_rmse(const std::string& out) {
  const size_t at = out.find("test_rmse");
  return at == std::string::npos ? NAN : std::stod(out.substr(at + 9));
}

TEST_F(Mpi, OneRankWritesTheSingleProcessModel) {
  const auto alone = testing::run_shell(std::string(PPMF_CLI_PATH) + train_args("alone.ppmf"));
  ASSERT_EQ(alone.code, 0) << alone.out;
  const auto one = testing::run_shell(mpirun(1) + PPMF_CLI_PATH + train_args("one.ppmf"));
  ASSERT_EQ(one.code, 0) << one.out;
  testing::expect_same_model(model("alone.ppmf"), model("one.ppmf"), testing::Timings::kIgnored);
}

TEST_F(Mpi, SeveralRanksReachTheSameAccuracyAndRepeatExactly) {
  const auto alone = testing::run_shell(std::string(PPMF_CLI_PATH) + train_args("alone.ppmf"));
  ASSERT_EQ(alone.code, 0) << alone.out;
  for (const int ranks : {2, 3}) {
    const std::string name = "p" + std::to_string(ranks);
    const auto a = testing::run_shell(mpirun(ranks) + PPMF_CLI_PATH + train_args(name + "a.ppmf"));
    ASSERT_EQ(a.code, 0) << a.out;
    EXPECT_NE(a.out.find(std::to_string(ranks) + " ranks (mpi)"), std::string::npos) << a.out;
    EXPECT_NEAR(test_rmse(a.out), test_rmse(alone.out), 0.005) << a.out;
    const Model m = model(name + "a.ppmf"), single = model("alone.ppmf");
    EXPECT_EQ(m.users.size(), single.users.size());
    EXPECT_EQ(m.n_train, single.n_train);
    EXPECT_TRUE(m.watch.present);
    const auto b = testing::run_shell(mpirun(ranks) + PPMF_CLI_PATH + train_args(name + "b.ppmf"));
    ASSERT_EQ(b.code, 0) << b.out;
    testing::expect_same_model(m, model(name + "b.ppmf"), testing::Timings::kIgnored);
  }
}

TEST_F(Mpi, RanksWithoutHeldOutEntriesAreFine) {
  std::ifstream in(dir_ + "/test.csv");
  std::string header, first;
  std::getline(in, header);
  std::getline(in, first);
  std::ofstream(dir_ + "/one.csv") << header << '\n' << first << '\n';
  const auto r = testing::run_shell(mpirun(3) + PPMF_CLI_PATH + " train --data '" + dir_ +
                                    "/[abc].csv' --test " + dir_ +
                                    "/one.csv --epochs 2 --no-watch --threads 1 --out " + dir_ +
                                    "/one.ppmf");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("1 held out"), std::string::npos) << r.out;
}

TEST_F(Mpi, ABadFileStopsEveryRankWithOneLineAndNoModel) {
  std::filesystem::copy_file(dir_ + "/c.csv", dir_ + "/bad.csv");
  std::ofstream(dir_ + "/bad.csv", std::ios::app) << "u1,v1,not-a-number\n";
  const std::string out = dir_ + "/bad.ppmf";
  const auto r = testing::run_shell(mpirun(3) + PPMF_CLI_PATH + " train --data " + dir_ +
                                    "/a.csv," + dir_ + "/b.csv," + dir_ +
                                    "/bad.csv --epochs 2 --no-watch --threads 1 --out " + out);
  EXPECT_NE(r.code, 0);
  size_t lines = 0;
  for (size_t at = r.out.find("ppmf-gpu: error: "); at != std::string::npos;
       at = r.out.find("ppmf-gpu: error: ", at + 1))
    ++lines;
  EXPECT_EQ(lines, 1u) << r.out;
  EXPECT_NE(r.out.find("ppmf-gpu: error: rank "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bad.csv:"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace ppmf
