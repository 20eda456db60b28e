// SPDX-License-Identifier: MIT
// Timing helper for the benchmarks: repeats a call until a minimum time has passed, several
// times, and reports the median seconds per call.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace flowtape::bench {

// Seconds per call of f, over calls repeated until at least min_seconds have passed.
template <class F>
double seconds_per_call(F&& f, double min_seconds) {
  using clock = std::chrono::steady_clock;
  long calls = 0;
  const auto start = clock::now();
  double elapsed = 0;
  do {
    f();
    ++calls;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < min_seconds);
  return elapsed / static_cast<double>(calls);
}

// The median of sorted values; of an even count, the mean of the middle two.
inline double median_of_sorted(const std::vector<double>& sorted) {
  const std::size_t mid = sorted.size() / 2;
  return sorted.size() % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

template <class F>
double median_seconds(F&& f, double min_seconds = 0.2, int rounds = 5) {
  f();  // warm-up
  std::vector<double> per_call;
  for (int r = 0; r < rounds; ++r) per_call.push_back(seconds_per_call(f, min_seconds));
  std::sort(per_call.begin(), per_call.end());
  return median_of_sorted(per_call);
}

}  // namespace flowtape::bench
