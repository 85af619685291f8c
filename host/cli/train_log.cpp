// Per-epoch lines and the progress bar: drawn only after an epoch has run for a second, redrawn at
// most 10 times a second, erased before the epoch's line.
#include "cli/train_log.hpp"

#include <unistd.h>

#include <cstdio>

namespace ppmf::cli {
namespace {

class ProgressBar {
 public:
  explicit ProgressBar(std::string prefix)
      : prefix_(std::move(prefix)), enabled_(isatty(STDERR_FILENO) == 1) {}

  void update(int epoch, size_t done, size_t total) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (epoch != epoch_) {
      epoch_ = epoch;
      start_ = last_ = now;
    }
    if (now - start_ < std::chrono::seconds(1) || now - last_ < std::chrono::milliseconds(100))
      return;
    last_ = now;
    constexpr int kWidth = 40;
    const int filled = static_cast<int>(kWidth * done / (total ? total : 1));
    std::fprintf(stderr, "\r%sepoch %d [%.*s%*s] %zu/%zu", prefix_.c_str(), epoch, filled,
                 "########################################", kWidth - filled, "", done, total);
    drawn_ = true;
  }
  void erase() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  std::string prefix_;
  bool enabled_, drawn_ = false;
  int epoch_ = -1;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace

std::string epoch_line(const EpochMetrics& e) {
  char buf[320];
  int n = std::snprintf(buf, sizeof buf, "epoch %3d  elbo/entry %9.4f  train_rmse %.4f", e.epoch,
                        e.elbo_per_entry, e.train_rmse);
  if (e.has_valid)
    n += std::snprintf(buf + n, sizeof buf - n, "  valid_rmse %.4f  valid_nll %.4f", e.valid_rmse,
                       e.valid_nll);
  if (e.has_test)
    n += std::snprintf(buf + n, sizeof buf - n, "  test_rmse %.4f  test_nll %.4f", e.test_rmse,
                       e.test_nll);
  std::snprintf(buf + n, sizeof buf - n, "  sigma %.4f  %6.2fM entries/s  %.2fs", e.sigma,
                e.entries_per_s / 1e6, e.seconds);
  return buf;
}

TrainCallbacks train_log(bool quiet, const std::string& prefix) {
  TrainCallbacks cb;
  if (quiet) return cb;
  auto bar = std::make_shared<ProgressBar>(prefix);
  cb.on_progress = [bar](int epoch, size_t done, size_t total) { bar->update(epoch, done, total); };
  cb.on_epoch = [bar, prefix](const EpochMetrics& e) {
    bar->erase();
    std::fprintf(stderr, "%s%s\n", prefix.c_str(), epoch_line(e).c_str());
  };
  cb.on_note = [bar, prefix](const std::string& note) {
    bar->erase();
    std::fprintf(stderr, "%s%s\n", prefix.c_str(), note.c_str());
  };
  return cb;
}

}  // namespace ppmf::cli
