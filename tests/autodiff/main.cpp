// SPDX-License-Identifier: MIT
// Test runner for the autodiff suites.
#define BOOST_TEST_MODULE flowtape_autodiff
#include <boost/test/unit_test.hpp>
