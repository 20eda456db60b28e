// SPDX-License-Identifier: MIT
// Test runner for the examples/app suites (the trainer, its config, and thread safety).
#define BOOST_TEST_MODULE flowtape_app
#include <boost/test/unit_test.hpp>
