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

TrainCallbacks train_log(bool quiet, const std::string& prefix) {
  TrainCallbacks cb;
  if (quiet) return cb;
  auto bar = std::make_shared<ProgressBar>(prefix);
  cb.on_progress = [bar](int epoch, size_t done, size_t total) { bar->update(epoch, done, total); };
  cb.on_epoch = [bar, prefix](const EpochMetrics& e) {
    bar->erase();
    std::fprintf(stderr, "%s%s\n", prefix.c_str(), format_epoch(e).c_str());
  };
  cb.on_note = [bar, prefix](const std::string& note) {
    bar->erase();
    std::fprintf(stderr, "%s%s\n", prefix.c_str(), note.c_str());
  };
  return cb;
}

}  // namespace ppmf::cli
