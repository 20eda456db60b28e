// SPDX-License-Identifier: MIT
// What the training-step benchmarks (flow_bench, scaling_bench) share: their model as a
// trainer spec, how steps are timed, and how their options are read.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "bench/timing.hpp"
#include "flowtape/nn/optimizer.hpp"
#include "flowtape/train/spec.hpp"

namespace flowtape::bench {

// The benchmark's step as a train::Trainer spec: VelocityMLP(2 -> width x 3 -> 2, SiLU, raw
// time input) on the 8 gaussians, the rectified path, Adam at its default rate, the entropic
// objective's lambda 0.3 from the first step, no end (the benchmark decides how many steps).
inline train::TrainSpec benchmark_spec(train::Loss loss, int width, std::int64_t batch) {
  train::TrainSpec spec;
  spec.dataset = "8gaussians";
  spec.loss = loss;
  spec.hidden = width;
  spec.depth = 3;
  spec.activation = nn::Activation::silu;
  spec.time_embedding = nn::TimeEmbeddingKind::raw;
  spec.batch = batch;
  spec.lr = nn::AdamOptions{}.lr;
  spec.schedule = train::LrSchedule::constant;
  spec.lambda_max = 0.3;
  spec.ramp_end = 0;
  spec.steps = std::int64_t{1} << 40;
  return spec;
}

// A bad command line: exit 2 (every other error is a failure, exit 1).
struct BadArguments : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Runs set_up (reading the command line and building what it names), whose
// std::invalid_argument and std::out_of_range are the command line's fault: they come back as
// BadArguments. Errors of the run itself (an index out of range inside a step) stay failures.
template <class SetUp>
decltype(auto) from_arguments(SetUp&& set_up) {
  try {
    return set_up();
  } catch (const std::invalid_argument& e) {
    throw BadArguments(e.what());
  } catch (const std::out_of_range& e) {
    throw BadArguments(e.what());
  }
}

// The value of option `name` as a number of type T (int, std::int64_t or double), all of it
// and finite, within T's range: "12x", "x", "inf" or 2^40 for an int is refused with the
// option's name.
template <class T>
T option_number(const std::string& name, const std::string& value) {
  std::size_t used = 0;
  bool fits = true;
  T parsed{};
  try {
    if constexpr (std::is_floating_point_v<T>) {
      const double d = std::stod(value, &used);
      fits = std::isfinite(d);
      parsed = static_cast<T>(d);
    } else {
      const long long v = std::stoll(value, &used);
      fits = v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max();
      parsed = static_cast<T>(v);
    }
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size() || !fits)
    throw BadArguments(name + " takes a finite number in range, not '" + value + "'");
  return parsed;
}

// Refuses timing options no run can use: at least one timed block, a non-negative warm-up and
// a positive block length.
inline void check_timing(int repeats, int warmup, double block_s) {
  if (repeats < 1 || warmup < 0 || !(block_s > 0))
    throw BadArguments("--repeats must be at least 1, --warmup at least 0 and --block-s positive");
}

// What a benchmark's main returns for an exception: 2 for a bad command line, 1 otherwise.
inline int exit_code_for(const std::exception& e) {
  return dynamic_cast<const BadArguments*>(&e) ? 2 : 1;
}

// A benchmark's main: run(), or for an exception its message after `name` on stderr and
// exit_code_for it.
template <class Run>
int guarded_main(const char* name, Run&& run) {
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return exit_code_for(e);
  }
}

// Steps per second of `repeats` timed blocks, sorted, and the block length in steps.
struct StepRates {
  int steps_per_block = 0;
  std::vector<double> sorted;
  double median() const { return median_of_sorted(sorted); }
};

// Times step(). The first half of `warmup` steps runs untimed (it fills the allocator's cache
// and faults pages in); the second half measures a step, from which a block of about block_s
// seconds (at least 5 steps) is sized; then `repeats` blocks are timed. agree(seconds) turns
// this process's estimate of a step into the one every process uses, so that MPI ranks run
// the same number of steps.
template <class Step, class Agree>
StepRates time_steps(Step&& step, int warmup, int repeats, double block_s, Agree&& agree) {
  check_timing(repeats, warmup, block_s);
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < warmup / 2; ++i) step();
  const auto w0 = clock::now();
  const int timed_warmup = std::max(warmup - warmup / 2, 1);
  for (int i = 0; i < timed_warmup; ++i) step();
  const double per_step =
      agree(std::chrono::duration<double>(clock::now() - w0).count() / timed_warmup);
  StepRates r;
  // (Clamped as a double: block_s 1e5 over a 10 us step does not fit an int.)
  r.steps_per_block = static_cast<int>(std::clamp(block_s / std::max(per_step, 1e-9), 5.0, 1e9));
  for (int b = 0; b < repeats; ++b) {
    const auto t0 = clock::now();
    for (int i = 0; i < r.steps_per_block; ++i) step();
    r.sorted.push_back(r.steps_per_block /
                       std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::sort(r.sorted.begin(), r.sorted.end());
  return r;
}

}  // namespace flowtape::bench
