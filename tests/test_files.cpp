// Output files: the same-file test behind "no output onto an input", atomic outputs that appear
// complete or not at all (failure, interruption, immediate exit), and the cancellation request.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string>

#include "ppmf/cancel.hpp"
#include "ppmf/csv_writer.hpp"
#include "ppmf/files.hpp"
#include "test_util.hpp"

namespace ppmf {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Files, SameFileSeesThroughLinksAndSpellings) {
  const std::string dir = testing::test_dir();
  const std::string a = dir + "/a.csv", b = dir + "/b.csv";
  testing::write_file(a, "x");
  testing::write_file(b, "x");  // equal content, another file
  fs::create_symlink(a, dir + "/soft.csv");
  fs::create_hard_link(a, dir + "/hard.csv");
  EXPECT_TRUE(same_file(a, a));
  EXPECT_TRUE(same_file(a, dir + "/soft.csv"));
  EXPECT_TRUE(same_file(a, dir + "/hard.csv"));
  EXPECT_TRUE(same_file(a, dir + "/./a.csv"));
  EXPECT_TRUE(same_file(a, dir + "//a.csv"));
  EXPECT_FALSE(same_file(a, b));
  // Not there yet (an output): by normalised path.
  EXPECT_TRUE(same_file(dir + "/new.ppmf", dir + "/./new.ppmf"));
  EXPECT_FALSE(same_file(dir + "/new.ppmf", dir + "/other.ppmf"));
  EXPECT_FALSE(same_file(a, dir + "/new.ppmf"));
}

TEST(Files, OutputsOntoInputsAreRefusedUnlessReplaceable) {
  const std::string dir = testing::test_dir();
  const std::string data = dir + "/data.csv", model = dir + "/m.ppmf";
  testing::write_file(data, "u,i,1\n");
  testing::write_file(model, "model");
  EXPECT_EQ(error_of([&] { check_distinct_paths({{"--data", data}}, {{"--out", data}}); }),
            "--out " + data + " is the same file as --data " + data +
                ": refusing to overwrite an input");
  EXPECT_EQ(error_of([&] {
              check_distinct_paths({}, {{"--out", dir + "/o"}, {"--json", dir + "/./o"}});
            }),
            "--out and --json name the same file (" + dir + "/./o): one would overwrite the other");
  // Allowed pairs, "-" (stdout) and options not given pass.
  EXPECT_EQ(error_of([&] {
              check_distinct_paths({{"--model", model}, {"--data", data}},
                                   {{"--out", model}, {"--json", "-"}, {"--csv", ""}},
                                   {{"--model", "--out"}});
            }),
            "(no error)");
  EXPECT_THAT(error_of([&] {
                check_distinct_paths({{"--model", model}, {"--data", data}}, {{"--out", model}},
                                     {{"--data", "--out"}});
              }),
              HasSubstr("is the same file as --model"));
  EXPECT_EQ(testing::read_text(data), "u,i,1\n");
}

TEST(Files, AtomicFileAppearsWholeOrNotAtAll) {
  const std::string dir = testing::test_dir();
  const std::string path = dir + "/out.csv";
  testing::write_file(path, "old");
  {
    AtomicFile f(path);
    f.write("new, ");
    EXPECT_EQ(testing::read_text(path), "old") << "the target is untouched until commit";
    EXPECT_EQ(entries(dir).size(), 2u) << "the temporary file sits beside it";
  }  // destroyed without commit: an error or an interruption
  EXPECT_EQ(testing::read_text(path), "old");
  EXPECT_EQ(entries(dir), std::set<std::string>{"out.csv"});
  write_atomically(path, "new");
  EXPECT_EQ(testing::read_text(path), "new");
  EXPECT_EQ(entries(dir), std::set<std::string>{"out.csv"});
  EXPECT_THAT(error_of([&] { write_atomically(dir + "/missing/x.csv", "x"); }),
              HasSubstr("missing/x.csv: cannot write: No such file or directory"));
}

TEST(Files, CancelledCommitsWriteNothingButCheckpoints) {
  const std::string dir = testing::test_dir();
  request_cancel(2);
  EXPECT_THROW(write_atomically(dir + "/out.csv", "x"), Cancelled);
  {
    CsvWriter w(dir + "/table.csv");
    w.write("a,b\n");
    EXPECT_THROW(w.close(), Cancelled);
  }
  EXPECT_TRUE(entries(dir).empty());
  write_atomically(dir + "/run.ckpt", "state", OnCancel::kCommit);
  clear_cancel();
  EXPECT_EQ(entries(dir), std::set<std::string>{"run.ckpt"});
  {
    CsvWriter w(dir + "/table.csv");
    w.write("a,b\n");
  }  // never closed
  EXPECT_EQ(entries(dir), std::set<std::string>{"run.ckpt"});
}

// What the CLI's handler for a second Ctrl-C does before _exit.
TEST(Files, PendingTemporaryFilesCanBeRemovedFromASignalHandler) {
  const std::string dir = testing::test_dir();
  AtomicFile a(dir + "/a.csv"), b(dir + "/b.csv");
  a.write("partial");
  write_atomically(dir + "/done.csv", "done");
  EXPECT_EQ(entries(dir).size(), 3u);
  remove_pending_temp_files();
  EXPECT_EQ(entries(dir), std::set<std::string>{"done.csv"});
}

}  // namespace
}  // namespace ppmf
