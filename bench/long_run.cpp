// SPDX-License-Identifier: MIT
// Long-run check (not a test: it takes minutes): 100k training steps of a small velocity MLP
// (batch 64) through the flowtape Trainer, printing the resident set size and the bytes held
// by live tensors every 10k steps. Memory must stay flat: after the first 10k steps (warm-up:
// allocator pools, thread-local GEMM buffers) RSS may not grow by more than kSlackMB. Exits 1
// if it does, so a leak in the tape, the optimizer or the trainer shows up as a failure.
//   build/bench/long_run [steps]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "flowtape/train/trainer.hpp"

using namespace flowtape;

namespace {

constexpr double kSlackMB = 4.0;

double rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return static_cast<double>(pages_resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  train::TrainSpec c;
  c.dataset = "rings";
  c.hidden = 64;
  c.depth = 3;
  c.batch = 64;
  c.steps = argc > 1 ? std::atoll(argv[1]) : 100000;
  c.schedule = train::LrSchedule::cosine;
  c.seed = 1;
  train::Trainer trainer(c);
  const std::int64_t every = std::max<std::int64_t>(c.steps / 10, 1);
  double baseline = -1, worst_growth = 0, last_loss = 0;
  const auto start = std::chrono::steady_clock::now();
  std::printf("%8s %10s %12s %10s %8s\n", "step", "RSS MB", "tensor KB", "loss", "s");
  trainer.train({.on_step = [&](const train::StepReport& r) {
    last_loss = r.loss;
    if (r.step % every != 0) return;
    const double rss = rss_mb();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%8lld %10.2f %12.1f %10.4f %8.1f\n", static_cast<long long>(r.step), rss,
                static_cast<double>(live_storage_bytes()) / 1024.0, r.loss, secs);
    std::fflush(stdout);
    if (baseline < 0)
      baseline = rss;  // after warm-up
    else
      worst_growth = std::max(worst_growth, rss - baseline);
  }});
  std::printf("RSS growth after warm-up: %.2f MB (limit %.1f MB); final loss %.4f\n", worst_growth,
              kSlackMB, last_loss);
  if (worst_growth > kSlackMB) {
    std::printf("FAIL: memory grows during training\n");
    return 1;
  }
  std::printf("OK: memory is flat\n");
  return 0;
}
