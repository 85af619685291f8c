// The CLI's view of training (TrainCallbacks): one line per epoch and the run's notes on stderr,
// and a progress bar within long epochs when stderr is a terminal.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "ppmf/scheduler.hpp"

namespace ppmf::cli {

// Callbacks that print nothing when `quiet` (errors still reach main); `prefix` starts each line
// ("" or e.g. "given-n pooled: ").
TrainCallbacks train_log(bool quiet, const std::string& prefix = "");

}  // namespace ppmf::cli
