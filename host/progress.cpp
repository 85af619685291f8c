// Progress bar: drawn only after an epoch has run for a second, redrawn at most 10 times a second.
#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace ppmf {

ProgressBar::ProgressBar(size_t total, bool enabled, std::string label)
    : total_(total),
      enabled_(enabled && isatty(STDERR_FILENO) == 1),
      label_(std::move(label)),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void ProgressBar::update(size_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - start_ < std::chrono::seconds(1) || now - last_ < std::chrono::milliseconds(100))
    return;
  last_ = now;
  constexpr int kWidth = 40;
  const int filled = static_cast<int>(kWidth * done / (total_ ? total_ : 1));
  std::fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu", label_.c_str(), filled,
               "########################################", kWidth - filled, "", done, total_);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (drawn_) std::fprintf(stderr, "\r\033[K");
  drawn_ = false;
}

}  // namespace ppmf
