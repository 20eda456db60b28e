// SPDX-License-Identifier: MIT
// Saving at requested times by dense output: accurate at 100 times, within 10x of the steps'
// own error at every tolerance, and saving never changes the steps taken (same accepted
// steps; NFE only for what an interpolant evaluates).
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <vector>

#include "flowtape/solvers/tableau_dop853.hpp"
#include "support/solver_problems.hpp"

using namespace flowtape;
using namespace flowtape::solvers;
using namespace flowtape::test;

BOOST_AUTO_TEST_SUITE(dense_output)

BOOST_AUTO_TEST_CASE(hundred_save_times) {
  const Tensor y0 = reshape(vec({1.0, 0.5}), {1, 2});
  std::vector<double> ts;
  for (int i = 0; i < 100; ++i) ts.push_back(10.0 * (i + 0.5) / 100.0);  // never on t0 or t1
  for (Method m : {Method::dopri5, Method::tsit5, Method::bosh3, Method::dopri8, Method::dop853}) {
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
      BOOST_TEST(worst < (m == Method::bosh3 ? 1e-4 : 1e-5),
                 "worst error at the save times " << worst);
      BOOST_TEST(saved.stats.accepted == plain.stats.accepted);
      BOOST_TEST(saved.stats.rejected == plain.stats.rejected);
      // FSAL methods: identical NFE. dopri8 takes a fresh step of 12 evaluations per saved
      // time; dop853 evaluates its 3 interpolation stages in the steps that hold a saved time;
      // both may evaluate f(t1, y1) once more at the end.
      const long extra = saved.stats.nfe - plain.stats.nfe;
      if (m == Method::dopri8)
        BOOST_TEST(extra == 12 * 100);
      else if (m == Method::dop853)
        BOOST_TEST((extra > 0 && extra <= 3 * saved.stats.accepted + 1));
      else
        BOOST_TEST(extra == 0);
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
// error at the accepted steps themselves. (A third-order interpolant misses this by ~100x at
// 1e-9 on a fifth-order method's steps and by ~1e6 on an eighth-order one's: the check below
// on a Hermite-interpolated copy of dop853 shows it would fail.)
BOOST_AUTO_TEST_CASE(interpolation_error_within_10x_of_the_step_error) {
  const Tensor y0 = reshape(vec({1.0, 0.0}), {1, 2});
  const double t1 = 20.0;
  Tableau dop853_hermite = tableaus::dop853;
  dop853_hermite.name = "dop853 with cubic Hermite";
  dop853_hermite.dense_degree = 0;
  dop853_hermite.dense_stages = 0;
  dop853_hermite.dense = {};
  for (int i = 12; i < kMaxStages; ++i) {
    dop853_hermite.c[static_cast<std::size_t>(i)] = 0;
    dop853_hermite.a[static_cast<std::size_t>(i)] = {};
  }
  const auto errors = [&](const Tableau& tab, double tol) {
    IntegrateOptions o;
    o.rtol = o.atol = tol;
    const Solution plain = integrate(rotation_field, y0, 0.0, t1, tab, o);
    // The states at the accepted steps (saving exactly at a step's end takes y1 itself).
    o.save_at.assign(plain.step_ts.begin() + 1, plain.step_ts.end());
    const Solution steps = integrate(rotation_field, y0, 0.0, t1, tab, o);
    double step_error = 0;
    for (std::size_t i = 0; i < o.save_at.size(); ++i)
      step_error =
          std::max(step_error, max_abs_diff(steps.ys[i].to_vector(), rotated(y0, o.save_at[i])));
    o.save_at.clear();
    for (int i = 0; i < 400; ++i) o.save_at.push_back(t1 * (i + 0.5) / 400.0);
    const Solution dense = integrate(rotation_field, y0, 0.0, t1, tab, o);
    double interpolated_error = 0;
    for (std::size_t i = 0; i < o.save_at.size(); ++i)
      interpolated_error = std::max(
          interpolated_error, max_abs_diff(dense.ys[i].to_vector(), rotated(y0, o.save_at[i])));
    BOOST_TEST_MESSAGE(tab.name << " at " << tol << ": step error " << step_error
                                << ", interpolated " << interpolated_error);
    return std::pair{step_error, interpolated_error};
  };
  const auto [hermite_step, hermite_interpolated] = errors(dop853_hermite, 1e-9);
  BOOST_TEST(hermite_interpolated > 100 * hermite_step);
  for (Method m : {Method::dopri5, Method::tsit5, Method::bosh3, Method::dopri8, Method::dop853}) {
    for (double tol : {1e-3, 1e-6, 1e-9}) {
      BOOST_TEST_CONTEXT(method_name(m) << " at " << tol) {
        const auto [step_error, interpolated_error] = errors(tableau(m), tol);
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
  for (Method m : {Method::dopri5, Method::tsit5, Method::dopri8, Method::dop853, Method::rk4}) {
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

// A dense solution keeps what its interpolant reads: dopri8's re-step interpolant needs each
// step's start and f there, not its 13 stages, so its memory per step is a few states.
BOOST_AUTO_TEST_CASE(a_dense_solution_keeps_only_what_it_interpolates_from) {
  Generator gen(1);
  const Tensor y0 = randn({64, 64}, gen, DType::f64);
  const std::size_t state = static_cast<std::size_t>(y0.nbytes());
  const std::size_t before = live_storage_bytes();
  IntegrateOptions o;
  o.method = Method::dopri8;
  o.dense = true;
  o.rtol = o.atol = 1e-10;
  const Solution s = integrate(rotation_field, reshape(y0, {-1, 2}), 0.0, 6.0, o);
  const long steps = s.stats.accepted;
  BOOST_TEST_REQUIRE(steps > 5);
  // Per step: y1 and f0 (y0 and f1 are the neighbours'): 2 states; the 13 stages made 14.
  const double per_step =
      static_cast<double>(live_storage_bytes() - before) / static_cast<double>(steps * state);
  BOOST_TEST(per_step < 6.0, per_step << " states a step");
}

BOOST_AUTO_TEST_SUITE_END()
