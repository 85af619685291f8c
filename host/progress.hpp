// A progress bar on stderr for long epochs; silent unless stderr is a terminal.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace ppmf {

class ProgressBar {
 public:
  ProgressBar(size_t total, bool enabled, std::string label);
  void update(size_t done);
  void finish();

 private:
  size_t total_;
  bool enabled_, drawn_ = false;
  std::string label_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace ppmf
