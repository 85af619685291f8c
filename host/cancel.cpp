// The cancellation request: two lock-free atomics, so a signal handler may set them.
#include "ppmf/cancel.hpp"

#include <atomic>

namespace ppmf {
namespace {
std::atomic<bool> g_requested{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "a signal handler may only touch lock-free atomics");
}  // namespace

void request_cancel(int signal_number) noexcept {
  g_signal.store(signal_number);
  g_requested.store(true);
}

bool cancel_requested() noexcept {
  return g_requested.load(std::memory_order_relaxed);
}

int cancel_signal() noexcept {
  return g_signal.load();
}

void clear_cancel() noexcept {
  g_requested.store(false);
  g_signal.store(0);
}

void throw_if_cancelled() {
  if (cancel_requested()) throw Cancelled("interrupted");
}

}  // namespace ppmf
