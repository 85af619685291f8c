// The fuzz harnesses (tests/fuzz) on every seed of their corpus, which must be accepted (so the
// fuzzer starts from valid inputs), and on every input that once crashed one of them
// (tests/fuzz/regressions/<harness>/, kept when the crash was fixed), which must not crash again.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "fuzz/harnesses.hpp"

namespace ppmf {
namespace {

namespace fs = std::filesystem;

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Fuzz, SeedsAreAcceptedAndPastCrashesAreHandled) {
  const fs::path root = PPMF_FUZZ_DIR;
  for (const fuzz::Harness& h : fuzz::kHarnesses) {
    SCOPED_TRACE(h.name);
    int seeds = 0;
    for (const auto& e : fs::directory_iterator(root / "corpus" / h.name)) {
      EXPECT_TRUE(h.run(bytes_of(e.path()))) << e.path() << " is not a valid seed";
      ++seeds;
    }
    EXPECT_GE(seeds, 3) << "a harness needs seeds";
    if (fs::exists(root / "regressions" / h.name))
      for (const auto& e : fs::directory_iterator(root / "regressions" / h.name))
        h.run(bytes_of(e.path()));  // must return (accepted or refused), not crash
  }
}

}  // namespace
}  // namespace ppmf
