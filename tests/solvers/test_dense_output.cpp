// SPDX-License-Identifier: MIT
// Saving at requested times by dense output: accurate at 100 times, and saving never changes
// the steps taken (same accepted steps, same NFE up to the end derivative of the last step).
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <vector>

#include "support/solver_problems.hpp"

using namespace flowtape;
using namespace flowtape::solvers;
using namespace flowtape::test;

BOOST_AUTO_TEST_SUITE(dense_output)

BOOST_AUTO_TEST_CASE(hundred_save_times) {
  const Tensor y0 = reshape(vec({1.0, 0.5}), {1, 2});
  std::vector<double> ts;
  for (int i = 0; i < 100; ++i) ts.push_back(10.0 * (i + 0.5) / 100.0);  // never on t0 or t1
  for (Method m : {Method::dopri5, Method::tsit5, Method::bosh3, Method::dopri8}) {
    BOOST_TEST_CONTEXT(method_name(m)) {
      IntegrateOptions o;
      o.method = m;
      o.rtol = 1e-7;
      o.atol = 1e-9;
      const Solution plain = integrate(rotation_field, y0, 0.0, 10.0, o);
      o.save_at = ts;
      const Solution saved = integrate(rotation_field, y0, 0.0, 10.0, o);
      BOOST_TEST(saved.ys.size() == 100u);
      BOOST_TEST(saved.ts == ts);
      double worst = 0;
      for (std::size_t i = 0; i < ts.size(); ++i)
        worst = std::max(worst, max_abs_diff(saved.ys[i].to_vector(), rotated(y0, ts[i])));
      // The tableau interpolant (dopri5) is as accurate as the steps; cubic Hermite is third
      // order, so on the long steps of high-order methods it is looser (dopri8's steps are
      // longest: its saved states are only accurate to ~1e-3 here, a known limitation).
      const double bound = m == Method::dopri5 ? 1e-5 : m == Method::dopri8 ? 1e-3 : 1e-4;
      BOOST_TEST(worst < bound, "worst error at the save times " << worst);
      BOOST_TEST(saved.stats.accepted == plain.stats.accepted);
      BOOST_TEST(saved.stats.rejected == plain.stats.rejected);
      // FSAL methods: identical NFE. dopri8: at most the end derivative of the last step.
      BOOST_TEST(saved.stats.nfe - plain.stats.nfe <= (m == Method::dopri8 ? 1 : 0));
    }
  }
}

// The dopri5 interpolant is much better than Hermite would be on the same steps: with a loose
// tolerance (long steps) it still tracks the solution between steps to the step accuracy.
BOOST_AUTO_TEST_CASE(dopri5_interpolant_between_steps) {
  IntegrateOptions o;
  o.rtol = 1e-4;
  o.atol = 1e-6;
  for (int i = 1; i < 200; ++i) o.save_at.push_back(4.0 * i / 200.0);
  const Solution s = integrate(cos_field, vec({1.0}), 0.0, 4.0, o);
  double worst = 0;
  for (std::size_t i = 0; i < o.save_at.size(); ++i)
    worst = std::max(worst, std::abs(s.ys[i].item() - std::exp(std::sin(o.save_at[i]))));
  BOOST_TEST(worst < 1e-3);
  BOOST_TEST(s.stats.accepted < 40);  // few, long steps: most save times are interpolated
}

// Save times equal to t0 and t1 return those states exactly; duplicates are allowed.
BOOST_AUTO_TEST_CASE(endpoints_and_duplicates) {
  IntegrateOptions o;
  o.save_at = {0.0, 0.5, 0.5, 1.0};
  const Tensor y0 = vec({1.0});
  const Solution s = integrate(decay_field, y0, 0.0, 1.0, o);
  BOOST_TEST(s.ys.size() == 4u);
  BOOST_TEST(s.ys[0].item() == 1.0);
  BOOST_TEST(s.ys[1].item() == s.ys[2].item());
  const Solution end = integrate(decay_field, y0, 0.0, 1.0, IntegrateOptions{});
  BOOST_TEST(s.ys[3].item() == end.ys[0].item());
}

// Fixed-step methods save by Hermite interpolation too, without changing their grid.
BOOST_AUTO_TEST_CASE(fixed_step_saving) {
  IntegrateOptions o;
  o.method = Method::rk4;
  o.n_steps = 20;
  o.save_at = {0.33, 0.66, 1.0};
  const Solution s = integrate(decay_field, vec({1.0}), 0.0, 1.0, o);
  BOOST_TEST(s.stats.accepted == 20);
  for (std::size_t i = 0; i < 3; ++i)
    BOOST_TEST(std::abs(s.ys[i].item() - std::exp(-o.save_at[i])) < 1e-6);
}

// A method's interpolant is as accurate as its steps: on the rotation, at rtol = atol in
// {1e-3, 1e-6, 1e-9}, the largest error at 400 interpolated times is within 10x of the largest
// error at the accepted steps themselves. (A third-order interpolant on a fifth-order method's
// steps, cubic Hermite, misses this by ~100x at 1e-9.)
BOOST_AUTO_TEST_CASE(interpolation_error_within_10x_of_the_step_error) {
  const Tensor y0 = reshape(vec({1.0, 0.0}), {1, 2});
  const double t1 = 20.0;
  for (Method m : {Method::dopri5, Method::tsit5, Method::bosh3}) {
    for (double tol : {1e-3, 1e-6, 1e-9}) {
      BOOST_TEST_CONTEXT(method_name(m) << " at " << tol) {
        IntegrateOptions o;
        o.method = m;
        o.rtol = o.atol = tol;
        const Solution plain = integrate(rotation_field, y0, 0.0, t1, o);
        // The states at the accepted steps (saving exactly at a step's end takes y1 itself).
        o.save_at.assign(plain.step_ts.begin() + 1, plain.step_ts.end());
        const Solution steps = integrate(rotation_field, y0, 0.0, t1, o);
        double step_error = 0;
        for (std::size_t i = 0; i < o.save_at.size(); ++i)
          step_error = std::max(step_error,
                                max_abs_diff(steps.ys[i].to_vector(), rotated(y0, o.save_at[i])));
        o.save_at.clear();
        for (int i = 0; i < 400; ++i) o.save_at.push_back(t1 * (i + 0.5) / 400.0);
        const Solution dense = integrate(rotation_field, y0, 0.0, t1, o);
        double interpolated_error = 0;
        for (std::size_t i = 0; i < o.save_at.size(); ++i)
          interpolated_error = std::max(
              interpolated_error, max_abs_diff(dense.ys[i].to_vector(), rotated(y0, o.save_at[i])));
        BOOST_TEST_MESSAGE("step error " << step_error << ", interpolated " << interpolated_error);
        BOOST_TEST(interpolated_error <= 10 * step_error);
      }
    }
  }
}

// Solution::evaluate: with IntegrateOptions::dense the solve keeps every step's interpolant, so
// the state is available anywhere in [t0, t1] after the fact, equal to what save_at would have
// given, and steps are not changed by it. Forward and backward in time; without dense, or
// outside [t0, t1], it refuses.
BOOST_AUTO_TEST_CASE(a_solution_evaluates_anywhere) {
  const Tensor y0 = reshape(vec({1.0, 0.0}), {1, 2});
  for (Method m : {Method::dopri5, Method::tsit5, Method::dopri8, Method::rk4}) {
    for (const double t1 : {6.0, -6.0}) {
      BOOST_TEST_CONTEXT(method_name(m) << " to " << t1) {
        IntegrateOptions o;
        o.method = m;
        o.rtol = o.atol = 1e-8;
        if (m == Method::rk4) o.n_steps = 200;
        std::vector<double> ts;
        for (int i = 1; i < 50; ++i) ts.push_back(t1 * i / 50.0);
        o.save_at = ts;
        const Solution saved = integrate(rotation_field, y0, 0.0, t1, o);
        o.save_at.clear();
        o.dense = true;
        const Solution s = integrate(rotation_field, y0, 0.0, t1, o);
        BOOST_TEST(s.stats.accepted == saved.stats.accepted);
        for (std::size_t i = 0; i < ts.size(); ++i) {
          const std::vector<double> a = s.evaluate(ts[i]).to_vector(), b = saved.ys[i].to_vector();
          BOOST_TEST(max_abs_diff(a, b) < 1e-12, "t = " << ts[i]);
        }
        BOOST_TEST(max_abs_diff(s.evaluate(t1).to_vector(), s.ys.back().to_vector()) == 0.0);
        BOOST_TEST(max_abs_diff(s.evaluate(0.0).to_vector(), y0.to_vector()) == 0.0);
        BOOST_CHECK_THROW(s.evaluate(t1 * 1.5), std::invalid_argument);
      }
    }
  }
  const Solution plain = integrate(rotation_field, y0, 0.0, 1.0);
  BOOST_CHECK_THROW(plain.evaluate(0.5), std::logic_error);
}

BOOST_AUTO_TEST_SUITE_END()
