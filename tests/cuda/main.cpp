// SPDX-License-Identifier: MIT
// Test runner for the CUDA suites. Built whenever the CUDA backend is (CI compiles it with
// nvcc but has no GPU): with no device, the global fixture says so in the log and every suite's
// precondition (gpu.hpp) marks its cases skipped, so CTest passes.
#define BOOST_TEST_MODULE flowtape_cuda
#include <boost/test/tree/traverse.hpp>
#include <boost/test/tree/visitor.hpp>
#include <boost/test/unit_test.hpp>
#include <iostream>

#include "flowtape/autodiff/autodiff.hpp"

namespace {

struct CountCases : boost::unit_test::test_tree_visitor {
  int n = 0;
  void visit(const boost::unit_test::test_case&) override { ++n; }
};

struct ReportDevice {
  ReportDevice() {
    const int devices = flowtape::cuda_device_count();
    if (devices == 0) {
      CountCases count;
      boost::unit_test::traverse_test_tree(boost::unit_test::framework::master_test_suite(), count);
      std::cout << "cuda_tests: no CUDA device found, skipping " << count.n << " test cases"
                << std::endl;
    } else {
      std::cout << "cuda_tests: " << devices << " CUDA device(s)" << std::endl;
    }
  }
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(ReportDevice);
