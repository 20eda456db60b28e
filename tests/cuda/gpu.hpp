// SPDX-License-Identifier: MIT
// Shared helpers of the CUDA suites: CPU-vs-GPU comparison of an op's result (the GPU
// precondition and max_rel_diff are in tests/support/gpu.hpp, shared with app_tests).
#pragma once

#include <boost/test/unit_test.hpp>
#include <vector>

#include "flowtape/autodiff/autodiff.hpp"
#include "support/gpu.hpp"

namespace flowtape::test {

// Tolerances for one op's GPU result against the CPU's: different summation orders and
// libm implementations, so a few ulps of the output's scale.
inline double tol_for(DType t) {
  return t == DType::f32 ? 2e-5 : 1e-12;
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
