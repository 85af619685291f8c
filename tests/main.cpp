// The test programs' main: GoogleTest with a listener that removes each test's directory (and each
// suite's) when it ends, pass or fail, so that no run leaves files behind (see test_util.hpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <system_error>

#include "test_util.hpp"

namespace {

class RemoveTestDirs : public ::testing::EmptyTestEventListener {
  void OnTestEnd(const ::testing::TestInfo& test) override {
    remove(ppmf::testing::test_dir_name(test.test_suite_name(), test.name()));
  }
  void OnTestSuiteEnd(const ::testing::TestSuite& suite) override {
    remove(ppmf::testing::test_dir_name(suite.name(), nullptr));
  }
  static void remove(const std::string& dir) {
    std::error_code ignored;  // a test that never made its directory
    std::filesystem::remove_all(dir, ignored);
  }
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::UnitTest::GetInstance()->listeners().Append(new RemoveTestDirs);
  return RUN_ALL_TESTS();
}
