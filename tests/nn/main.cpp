// SPDX-License-Identifier: MIT
// Test runner for the nn suites.
#define BOOST_TEST_MODULE flowtape_nn
#include <boost/test/unit_test.hpp>
