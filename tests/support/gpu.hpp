// SPDX-License-Identifier: MIT
// Test helpers for code that may run on a GPU, shared by the CUDA suites (tests/cuda) and
// the suites of code that can be asked to use one (app_tests' device suite): the "is there a
// GPU" precondition, and the relative difference used to compare results across devices.
#pragma once

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <vector>

#include "flowtape/autodiff/autodiff.hpp"

namespace flowtape::test {

// Decorates a suite so that, with no device, its cases are reported as skipped (not failed).
// A plain function, not an empty functor: boost::function copies its whole small-object
// buffer, and an empty functor leaves that buffer unwritten (GCC 12 then warns that it is used
// uninitialized, at every use of the decorator).
inline boost::test_tools::assertion_result have_gpu(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(cuda_device_count() > 0);
  if (!r) r.message() << "no CUDA device";
  return r;
}
inline auto needs_gpu() {
  return boost::unit_test::precondition(&have_gpu);
}

// max_i |a_i - b_i| / max(1, |b_i|); NaNs must match NaNs, infinities must match exactly.
inline double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) {
      if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
      continue;
    }
    if (std::isinf(a[i]) || std::isinf(b[i])) {
      if (a[i] != b[i]) return INFINITY;
      continue;
    }
    worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i])));
  }
  return worst;
}

}  // namespace flowtape::test
