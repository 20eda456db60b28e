// SPDX-License-Identifier: MIT
// Euler-Maruyama on the Ornstein-Uhlenbeck process dx = -theta x dt + sigma dW, x(0) = 1:
// mean x0 e^(-theta t) and variance sigma^2 (1 - e^(-2 theta t)) / (2 theta) at t = 1 within
// a few standard errors of 20000 seeded paths; bitwise deterministic for a fixed seed.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "support/solver_problems.hpp"

using namespace flowtape;
using namespace flowtape::solvers;
using namespace flowtape::test;

namespace {

constexpr double kTheta = 1.0, kSigma = 0.5;

Solution ou(std::uint64_t seed, int n_paths, const std::vector<double>& save_at = {}) {
  Generator gen(seed);
  const Tensor x0 = ones({n_paths}, DType::f64);
  return euler_maruyama([](double, const Tensor& x) { return x * -kTheta; },
                        [](double, const Tensor& x) { return scalar_like(x, kSigma); }, x0, 0.0,
                        1.0, 200, gen, save_at);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sde)

BOOST_AUTO_TEST_CASE(ornstein_uhlenbeck_moments) {
  const int n = 20000;
  const Solution s = ou(42, n);
  const auto x = s.ys.back().to_vector();
  double m = 0, v = 0;
  for (double xi : x) m += xi / n;
  for (double xi : x) v += (xi - m) * (xi - m) / (n - 1);
  const double mean = std::exp(-kTheta);
  const double var = kSigma * kSigma * (1 - std::exp(-2 * kTheta)) / (2 * kTheta);
  const double se_mean = std::sqrt(var / n), se_var = var * std::sqrt(2.0 / (n - 1));
  BOOST_TEST(std::abs(m - mean) < 4 * se_mean, "mean " << m << " vs " << mean);
  BOOST_TEST(std::abs(v - var) < 4 * se_var, "variance " << v << " vs " << var);
  BOOST_TEST(s.stats.accepted == 200);
}

BOOST_AUTO_TEST_CASE(deterministic_for_a_seed) {
  const auto a = ou(7, 64).ys.back().to_vector(), b = ou(7, 64).ys.back().to_vector();
  const auto c = ou(8, 64).ys.back().to_vector();
  BOOST_TEST(a == b);
  BOOST_TEST(a != c);
}

// Save times off the grid are added to it: the mean at t = 0.333 is right too.
BOOST_AUTO_TEST_CASE(save_times_join_the_grid) {
  const Solution s = ou(9, 20000, {0.0, 0.333, 1.0});
  BOOST_TEST(s.ys.size() == 3u);
  BOOST_TEST(s.ys[0].at(0) == 1.0);
  BOOST_TEST(s.stats.accepted == 201);  // one step split by 0.333
  const double m = mean(s.ys[1]).item(), expect = std::exp(-kTheta * 0.333);
  const double var = kSigma * kSigma * (1 - std::exp(-2 * kTheta * 0.333)) / (2 * kTheta);
  BOOST_TEST(std::abs(m - expect) < 4 * std::sqrt(var / 20000));
  BOOST_CHECK_THROW(ou(9, 4, {0.5, 0.2}), std::invalid_argument);
  BOOST_TEST(s.step_ts.size() == 202u);  // t0 and the end of each accepted step
  BOOST_TEST(s.step_ts.front() == 0.0);
  BOOST_TEST(s.step_ts.back() == 1.0);
}

// A drift that broadcasts the state to another shape is refused, not followed.
BOOST_AUTO_TEST_CASE(a_field_that_changes_the_state_shape_is_refused) {
  Generator gen(1);
  const auto reshaping = [](double, const Tensor& x) { return reshape(x, {-1, 1}) * -1.0; };
  const auto unit = [](double, const Tensor& x) { return scalar_like(x, 1.0); };
  BOOST_CHECK_THROW(euler_maruyama(reshaping, unit, ones({4}, DType::f64), 0, 1, 10, gen),
                    std::invalid_argument);
}

// A step count whose recorded times alone would take gigabytes is refused before anything is
// allocated.
BOOST_AUTO_TEST_CASE(too_many_steps_are_refused) {
  Generator gen(1);
  const auto drift = [](double, const Tensor& x) { return x * -1.0; };
  const auto unit = [](double, const Tensor& x) { return scalar_like(x, 1.0); };
  BOOST_CHECK_EXCEPTION(euler_maruyama(drift, unit, ones({2}, DType::f64), 0, 1, 200'000'000, gen),
                        std::invalid_argument, [](const std::invalid_argument& e) {
                          return std::string(e.what()).find("exceeds 100000000") !=
                                 std::string::npos;
                        });
}

// A blow-up: the error hands back the last finite state, its time and the solve's cost, as
// integrate()'s errors do.
BOOST_AUTO_TEST_CASE(a_blow_up_keeps_the_last_finite_state) {
  Generator gen(1);
  const auto explode = [](double t, const Tensor& x) { return x * (t < 0.25 ? 1.0 : INFINITY); };
  const auto none = [](double, const Tensor& x) { return scalar_like(x, 0.0); };
  try {
    euler_maruyama(explode, none, ones({3}, DType::f64), 0, 1, 10, gen);
    BOOST_FAIL("no SolverError");
  } catch (const SolverError& e) {
    BOOST_TEST(e.last_t() == 0.30000000000000004);  // steps from 0, 0.1, 0.2 accepted
    BOOST_TEST(e.step() == 4);
    BOOST_REQUIRE(e.last_y().defined());
    BOOST_TEST(e.last_y().at(0) == 1.1 * 1.1 * 1.1, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(e.stats().nfe == 4);
    BOOST_TEST(e.stats().accepted == 3);
  }
}

BOOST_AUTO_TEST_SUITE_END()
