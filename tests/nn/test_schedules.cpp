// SPDX-License-Identifier: MIT
// Learning-rate schedules.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "flowtape/nn/nn.hpp"

using namespace flowtape::nn;

BOOST_AUTO_TEST_SUITE(schedules)

BOOST_AUTO_TEST_CASE(constant_and_warmup) {
  BOOST_TEST(constant_lr(0.3)(0) == 0.3);
  BOOST_TEST(constant_lr(0.3)(1000) == 0.3);
  const Schedule w = linear_warmup(1.0, 4);
  BOOST_TEST(w(0) == 0.25);
  BOOST_TEST(w(1) == 0.5);
  BOOST_TEST(w(3) == 1.0);
  BOOST_TEST(w(100) == 1.0);
  BOOST_TEST(linear_warmup(2.0, 0)(0) == 2.0);
}

BOOST_AUTO_TEST_CASE(cosine_with_warmup) {
  const Schedule s = cosine_decay(1.0, 110, 10, 0.1);
  BOOST_TEST(s(0) == 0.1);  // warm-up starts at lr / warmup_steps
  BOOST_TEST(s(9) == 1.0);
  BOOST_TEST(s(10) == 1.0);                    // the cosine starts at the peak
  BOOST_TEST(std::abs(s(60) - 0.55) < 1e-12);  // halfway: (lr + min_lr) / 2
  BOOST_TEST(std::abs(s(110) - 0.1) < 1e-12);
  BOOST_TEST(std::abs(s(1000) - 0.1) < 1e-12);  // stays at min_lr
  for (int k = 10; k < 110; ++k) BOOST_TEST(s(k + 1) <= s(k));
  BOOST_CHECK_THROW(cosine_decay(1.0, 10, 10), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(step_decay_with_warmup) {
  const Schedule s = step_decay(1.0, 0.5, 10, 4);
  BOOST_TEST(s(0) == 0.25);
  BOOST_TEST(s(3) == 1.0);
  BOOST_TEST(s(4) == 1.0);  // floor(4 / 10) = 0 decays
  BOOST_TEST(s(9) == 1.0);
  BOOST_TEST(s(10) == 0.5);
  BOOST_TEST(s(29) == 0.25);
  BOOST_TEST(s(30) == 0.125);
  // Warm-up longer than `every`: the decay has counted the warm-up steps (from step 0).
  const Schedule long_warm = step_decay(1.0, 0.5, 10, 25);
  BOOST_TEST(long_warm(24) == 1.0);
  BOOST_TEST(long_warm(25) == 0.25);
  const Schedule official = step_decay(1e-3, 0.999, 10);
  BOOST_TEST(std::abs(official(30000) / 1e-3 - std::pow(0.999, 3000)) < 1e-12);  // ~0.0497
  BOOST_CHECK_THROW(step_decay(1.0, 0.0, 10), std::invalid_argument);
  BOOST_CHECK_THROW(step_decay(1.0, 0.5, 0), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
