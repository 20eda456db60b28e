// SPDX-License-Identifier: MIT
// The signal flag of StopOnSignals (stop_signal.hpp).
#include "flowtape/train/stop_signal.hpp"

#include <atomic>
#include <csignal>

namespace flowtape::train {
namespace {

// An atomic, not a volatile: the signal may be delivered on a kernel worker thread.
std::atomic<int> g_received{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free flag");

extern "C" void note_stop_signal(int sig) {
  g_received.store(sig, std::memory_order_relaxed);
  std::signal(sig, SIG_DFL);
}

}  // namespace

StopOnSignals::StopOnSignals() {
  g_received.store(0, std::memory_order_relaxed);
  std::signal(SIGINT, note_stop_signal);
  std::signal(SIGTERM, note_stop_signal);
}

StopOnSignals::~StopOnSignals() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

int StopOnSignals::received() {
  return g_received.load(std::memory_order_relaxed);
}

}  // namespace flowtape::train
