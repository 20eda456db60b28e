// SPDX-License-Identifier: MIT
// Test runner of the train suites: the trainer, its spec, and training on a device.
#define BOOST_TEST_MODULE flowtape_train
#include <boost/test/unit_test.hpp>
