// SPDX-License-Identifier: MIT
// Test runner for the kernels suites.
#define BOOST_TEST_MODULE flowtape_kernels
#include <boost/test/unit_test.hpp>
