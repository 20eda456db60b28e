// SPDX-License-Identifier: MIT
// metrics.csv in a run folder: one row per training step (step, wall-clock seconds, the loss
// and FDM's two terms, learning rate, entropic lambda, gradient norm), appended as training
// goes, so a run can be plotted while it trains and after it was killed. A resumed run keeps
// the rows up to its checkpoint's step and goes on from there; its wall time continues too.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "flowtape/train/trainer.hpp"

namespace flowtape::train {

class MetricsLog {
 public:
  // A new log, or (resumed_at > 0) the existing one cut after step resumed_at.
  MetricsLog(std::string path, std::int64_t resumed_at);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void append(const StepReport& r);
  void flush();

  static constexpr const char* kHeader = "step,wall_s,loss,cfm,divergence,lr,lambda,grad_norm";
  static constexpr std::ptrdiff_t kColumns = 8;  // kHeader's names

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  double wall_offset_ = 0;  // the wall time of the last kept row of a resumed run
  std::chrono::steady_clock::time_point start_, last_flush_;
};

}  // namespace flowtape::train
