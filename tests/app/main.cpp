// SPDX-License-Identifier: MIT
// Test runner of the app suites: the flowtape command's shared code (parallel runs).
#define BOOST_TEST_MODULE flowtape_app
#include <boost/test/unit_test.hpp>
