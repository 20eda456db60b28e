// SPDX-License-Identifier: MIT
// StopOnSignals: while one is alive, SIGINT and SIGTERM do not kill the process; they set a
// flag that a training loop polls (TrainCallbacks::stop), so it can save a checkpoint of the
// last finished step and exit with 128 + the signal's number. A second signal is not caught
// (the handler restores the default action), so pressing Ctrl-C twice always stops.
#pragma once

namespace flowtape::train {

class StopOnSignals {
 public:
  StopOnSignals();   // installs the handlers and clears the flag
  ~StopOnSignals();  // restores the default actions
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

  // The signal received (SIGINT or SIGTERM), or 0.
  static int received();
};

}  // namespace flowtape::train
