// Reader throughput: writes a synthetic ratings CSV ("u0123456,v004567,3.50") of about argv[1] MB
// (default 100) to a temp file, times read_ratings on it three times, and removes the file. Two
// files are timed: lines grouped by user, as most rating dumps are, and lines in random order over
// a million users, the worst case for the id tables. The page cache is warm after the write, so
// this measures parsing rather than the disk.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "ppmf/common.hpp"
#include "ppmf/reader.hpp"

namespace {

constexpr int kUsers = 1000000, kItems = 50000;

std::string make_csv(size_t target_bytes, bool grouped) {
  ppmf::Rng rng(42);
  std::string text = "user,item,rating\n";
  text.reserve(target_bytes + 64);
  char line[64];
  uint64_t user = 0, run_left = 0;
  while (text.size() < target_bytes) {
    if (!grouped) {
      user = rng.below(kUsers);
    } else if (run_left-- == 0) {
      user = (user + 1 + rng.below(4)) % kUsers;  // ascending ids, some never rate
      run_left = rng.below(40);
    }
    const int n = std::snprintf(line, sizeof line, "u%07d,v%06d,%.2f\n", static_cast<int>(user),
                                static_cast<int>(rng.below(kItems)), 0.5 + 4.5 * rng.uniform());
    text.append(line, static_cast<size_t>(n));
  }
  return text;
}

// Times three reads of `path`; prints a line per run and a summary.
void time_reads(const std::string& path, double size_mb, const char* label) {
  ppmf::ReadOptions opts;
  opts.duplicates = ppmf::DuplicatePolicy::kLast;  // random pairs repeat now and then
  double best = 1e300;
  size_t lines = 0;
  for (int run = 1; run <= 3; ++run) {
    ppmf::ReadReport report;
    const auto t0 = std::chrono::steady_clock::now();
    const ppmf::Ratings r = ppmf::read_ratings(path, opts, &report);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    lines = report.lines_read;
    std::printf("  run %d: %.3f s, %zu entries, %zu users, %zu items, %zu duplicates merged\n", run,
                s, r.size(), r.users.size(), r.items.size(), report.duplicates_merged);
  }
  std::printf("reader (%s): %.1f MB in %.2f s = %.1f MB/s (%.1f M lines/s), best of 3\n", label,
              size_mb, best, size_mb / best, static_cast<double>(lines) / best / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  const double mb = argc > 1 ? std::atof(argv[1]) : 100.0;
  if (!(mb > 0)) {
    std::fprintf(stderr, "usage: %s [size_mb]\n", argv[0]);
    return 2;
  }
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("ppmf_bench_reader_" + std::to_string(getpid()) + ".csv"))
                               .string();
  int rc = 0;
  for (const bool grouped : {true, false}) {
    const std::string text = make_csv(static_cast<size_t>(mb * 1e6), grouped);
    bool written = false;
    if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
      written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
      written = std::fclose(f) == 0 && written;
    }
    if (!written) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      rc = 1;
      break;
    }
    try {
      time_reads(path, static_cast<double>(text.size()) / 1e6,
                 grouped ? "grouped by user" : "random order");
    } catch (const ppmf::Error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      rc = 1;
      break;
    }
  }
  std::filesystem::remove(path);
  return rc;
}
