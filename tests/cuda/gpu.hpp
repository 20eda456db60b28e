// Shared helpers of the CUDA suites: the "is there a GPU" precondition every suite carries,
// and CPU-vs-GPU comparison.
#pragma once

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <vector>

#include "autodiff/autodiff.hpp"

namespace flowtape::test {

// Decorates a suite so that, with no device, its cases are reported as skipped (not failed).
struct HaveGpu {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result r(cuda_device_count() > 0);
    if (!r) r.message() << "no CUDA device";
    return r;
  }
};
inline auto needs_gpu() {
  return boost::unit_test::precondition(HaveGpu{});
}

// Tolerances for one op's GPU result against the CPU's: different summation orders and
// libm implementations, so a few ulps of the output's scale.
inline double tol_for(DType t) {
  return t == DType::f32 ? 2e-5 : 1e-12;
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

// Runs f on CPU inputs and on their GPU copies and checks the results agree.
template <class F>
void check_same(const char* what, F f, const std::vector<Tensor>& cpu_inputs, double tol = -1) {
  std::vector<Tensor> gpu_inputs;
  for (const Tensor& x : cpu_inputs) gpu_inputs.push_back(x.to(Device::cuda));
  const Tensor want = f(cpu_inputs);
  const Tensor got = f(gpu_inputs);
  BOOST_TEST_CONTEXT(what << " on " << want.str()) {
    BOOST_TEST(got.device() == Device::cuda);
    BOOST_TEST(got.shape() == want.shape());
    const double t = tol < 0 ? tol_for(want.dtype()) : tol;
    BOOST_TEST(max_rel_diff(got.to_vector(), want.to_vector()) <= t);
  }
}

}  // namespace flowtape::test
