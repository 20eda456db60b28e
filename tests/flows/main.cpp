// SPDX-License-Identifier: MIT
// Test runner for the flows suites.
#define BOOST_TEST_MODULE flowtape_flows
#include <boost/test/unit_test.hpp>
