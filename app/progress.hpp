// SPDX-License-Identifier: MIT
// A progress line for long work: step, loss, lambda, iterations per second and ETA. On a
// terminal it rewrites one line in place; elsewhere (a log file, CI) it prints a plain line
// about every 5% so logs stay short.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace flowtape::app {

class Progress {
 public:
  // `first`: the units already done before this process started (a resumed run), which the
  // rate leaves out.
  Progress(std::string label, std::int64_t total, std::int64_t first = 0, std::FILE* out = stderr);
  Progress(std::string label, std::int64_t total, std::int64_t first, std::FILE* out,
           bool interactive);
  // done: units finished so far; fields: extra text such as "loss 0.31  lambda 0.20".
  void update(std::int64_t done, const std::string& fields);
  void finish(const std::string& fields = "");

 private:
  void print(std::int64_t done, const std::string& fields, bool final);
  std::string label_;
  std::int64_t total_;
  std::int64_t first_;
  std::FILE* out_;
  bool interactive_;
  std::int64_t next_plain_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace flowtape::app
