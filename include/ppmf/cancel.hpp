// The process-wide cancellation request. The CLI's signal handlers set it (SIGINT, SIGTERM);
// training polls it between ranges of rows and output writers between blocks, and they stop by
// throwing Cancelled. Library callers with their own way of stopping (the Python package) pass
// TrainCallbacks::cancelled instead; both are honoured.
#pragma once

#include "ppmf/common.hpp"

namespace ppmf {

// Async-signal-safe. `signal_number` is kept for the caller's message and exit status.
void request_cancel(int signal_number = 0) noexcept;
bool cancel_requested() noexcept;
int cancel_signal() noexcept;  // the signal given to request_cancel (0: none, or none given)
void clear_cancel() noexcept;

// Throws Cancelled when cancellation was requested.
void throw_if_cancelled();

}  // namespace ppmf
