// SPDX-License-Identifier: MIT
// Test runner for the solvers suites.
#define BOOST_TEST_MODULE flowtape_solvers
#include <boost/test/unit_test.hpp>
