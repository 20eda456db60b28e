// Timing helper for the benchmarks: repeats a call until a minimum time has passed, several
// times, and reports the median seconds per call.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace flowtape::bench {

template <class F>
double median_seconds(F&& f, double min_seconds = 0.2, int rounds = 5) {
  using clock = std::chrono::steady_clock;
  f();  // warm-up
  std::vector<double> per_call;
  for (int r = 0; r < rounds; ++r) {
    long calls = 0;
    const auto start = clock::now();
    double elapsed = 0;
    do {
      f();
      ++calls;
      elapsed = std::chrono::duration<double>(clock::now() - start).count();
    } while (elapsed < min_seconds);
    per_call.push_back(elapsed / static_cast<double>(calls));
  }
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

}  // namespace flowtape::bench
