// SPDX-License-Identifier: MIT
// Waiting by polling, then blocking: what the kernels' pool (parallel.cpp) and the trainer's
// shard workers (train/shard_workers.cpp) share. Not installed: only their sources use it.
#pragma once

#include <chrono>

namespace flowtape::kernels::cpu {

// How long a thread polls for the next job, or for the threads it waits on, before blocking.
// A width-64 step at batch 4096 has serial stretches longer than 100 us (its [64, 4096] x
// [4096, 64] weight gradients stay on one thread), so with 100 us a pool worker slept through
// them and every parallel kernel after one paid a futex wake-up. 1 ms made such steps up to
// 1.24x as fast on two threads and changed nothing measurable at batch 256 and 1024.
inline constexpr auto kSpin = std::chrono::microseconds(1000);

// The poll budget of a group of `threads` threads on `cores` usable cores (usable_cores() in
// cores.hpp): kSpin while each has a core, none beyond. With more threads than cores a
// polling thread holds the core the one it waits for needs: four pool threads on two cores
// ran a width-256 step slower than one thread while they polled.
inline std::chrono::microseconds spin_budget(int threads, int cores) {
  return threads <= cores ? kSpin : std::chrono::microseconds(0);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls done() until it returns true or `budget` has passed; returns its last answer.
template <class Done>
bool spin_until(Done&& done, std::chrono::microseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  while (true) {
    for (int i = 0; i < 64; ++i) {  // the clock is read every 64 polls
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() > deadline) return done();
  }
}

}  // namespace flowtape::kernels::cpu
