// SPDX-License-Identifier: MIT
// Failures end with a named error, never a hang: blow-up (step size underflow), max_steps,
// NaN fields (adaptive and fixed), each handing back the last accepted state; and bad options
// (n_steps beyond max_steps included) as std::invalid_argument before anything runs.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "flowtape/solvers/controller.hpp"
#include "support/solver_problems.hpp"

using namespace flowtape;
using namespace flowtape::solvers;
using namespace flowtape::test;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Runs the solve and returns the SolverError it must throw.
template <class F>
SolverError expect_solver_error(F&& solve) {
  try {
    solve();
  } catch (const SolverError& e) {
    return e;
  }
  BOOST_FAIL("no SolverError was thrown");
  return SolverError("", 0, 0);
}

template <class F>
std::string expect_invalid(F&& solve) {
  try {
    solve();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  BOOST_FAIL("no std::invalid_argument was thrown");
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(solver_errors)

// y' = y^2, y(0) = 1 blows up at t = 1; asked to reach t = 2 the solver must stop near t = 1.
BOOST_AUTO_TEST_CASE(blow_up_is_named) {
  for (Method m : {Method::dopri5, Method::bosh3, Method::dopri8, Method::dop853}) {
    IntegrateOptions o;
    o.method = m;
    const SolverError e = expect_solver_error([&] {
      integrate([](double, const Tensor& y) { return square(y); }, vec({1.0}), 0.0, 2.0, o);
    });
    BOOST_TEST_MESSAGE(e.what());
    BOOST_TEST(e.t() > 0.99);
    BOOST_TEST(e.t() < 1.001);  // the numerical solution may overshoot the pole a little
    BOOST_TEST(e.step() > 0);
    BOOST_TEST(contains(e.what(), "t = "));
    BOOST_TEST(contains(e.what(), "step " + std::to_string(e.step())));
  }
}

BOOST_AUTO_TEST_CASE(max_steps_reached) {
  IntegrateOptions o;
  o.max_steps = 5;
  o.rtol = 1e-10;
  o.atol = 1e-12;
  const SolverError e = expect_solver_error([&] {
    integrate(rotation_field, reshape(vec({1.0, 0.0}), {1, 2}), 0.0, 10.0, o);
  });
  BOOST_TEST(contains(e.what(), "max_steps = 5"));
  BOOST_TEST(e.step() == 5);
  BOOST_TEST(e.t() > 0.0);
  BOOST_TEST(e.t() < 10.0);
  // The last accepted state comes back with the error, and what the solve cost.
  BOOST_TEST(e.last_t() == e.t());
  BOOST_REQUIRE(e.last_y().defined());
  const std::vector<double> y = e.last_y().to_vector();
  BOOST_TEST(std::abs(y[0] - std::cos(e.t())) < 1e-6);  // rotation_field: (cos t, -sin t)
  BOOST_TEST(e.stats().accepted == 5 - e.stats().rejected);
  BOOST_TEST(e.stats().nfe > 5);
  // Fixed step: 100 steps asked, 5 allowed: refused before running, as is a dt0 that needs
  // more than max_steps steps.
  o.method = Method::rk4;
  o.n_steps = 100;
  BOOST_CHECK_EXCEPTION(integrate(decay_field, vec({1.0}), 0.0, 1.0, o), std::invalid_argument,
                        [](const std::invalid_argument& x) {
                          return contains(x.what(), "n_steps = 100 exceeds max_steps = 5");
                        });
  o.n_steps = 0;
  o.dt0 = 0.01;
  BOOST_CHECK_EXCEPTION(
      integrate(decay_field, vec({1.0}), 0.0, 1.0, o), std::invalid_argument,
      [](const std::invalid_argument& x) { return contains(x.what(), "more than max_steps = 5"); });
}

// A field that turns NaN past t = 0.5: adaptive and fixed solvers stop there with the error.
BOOST_AUTO_TEST_CASE(nan_field) {
  const VectorField f = [](double t, const Tensor& y) {
    return t > 0.5 ? y * std::numeric_limits<double>::quiet_NaN() : -y;
  };
  for (Method m : {Method::dopri5, Method::tsit5, Method::dopri8, Method::dop853, Method::rk4,
                   Method::euler}) {
    IntegrateOptions o;
    o.method = m;
    if (m == Method::rk4 || m == Method::euler) o.n_steps = 20;
    const SolverError e = expect_solver_error([&] { integrate(f, vec({1.0, 2.0}), 0.0, 1.0, o); });
    BOOST_TEST_MESSAGE(e.what());
    BOOST_TEST(contains(e.what(), "non-finite"), e.what());
    BOOST_TEST(e.t() <= 0.55 + 1e-12);  // fixed steps of 0.05 notice at the next step
    BOOST_TEST(e.t() > 0.3);
    // The last good state is handed back: y = y0 exp(-t) there, to the method's accuracy
    // (20 Euler steps: about 1%).
    const std::vector<double> last = e.last_y().to_vector();
    const double tol = m == Method::euler ? 2e-2 : 1e-4;
    BOOST_TEST(std::abs(last[0] - std::exp(-e.last_t())) < tol);
    BOOST_TEST(std::abs(last[1] - 2 * std::exp(-e.last_t())) < 2 * tol);
  }
  // NaN from the very start.
  const SolverError e = expect_solver_error([&] {
    integrate([](double, const Tensor& y) { return y * std::numeric_limits<double>::quiet_NaN(); },
              vec({1.0}), 0.0, 1.0);
  });
  BOOST_TEST(e.t() == 0.0);
  BOOST_TEST(contains(e.what(), "non-finite"));
}

// A state that overflows is never accepted: an infinite trial state used to make its own error
// scale infinite, the error 0 and the step accepted, and the solve returned inf as if it had
// succeeded. (The field does not read y, so its stages stay finite while y1 overflows.) Near
// the f32 maximum the solve then crawls, its increments rounding away, until a limit stops it.
BOOST_AUTO_TEST_CASE(an_overflowing_state_is_never_accepted) {
  const VectorField constant = [](double, const Tensor& y) { return full_like(y, 3e38); };
  for (Method m : {Method::dopri5, Method::tsit5, Method::dop853}) {
    IntegrateOptions o;
    o.method = m;
    o.max_steps = 2000;
    const SolverError e =
        expect_solver_error([&] { integrate(constant, vec({0.0}, DType::f32), 0.0, 2.0, o); });
    BOOST_TEST_CONTEXT(method_name(m)) {
      BOOST_TEST_MESSAGE(e.what());
      BOOST_TEST(std::isfinite(e.last_y().item()));
      BOOST_TEST(e.t() < 1.2);  // y = 3e38 t passes the f32 maximum at t = 1.13
      BOOST_TEST(e.stats().rejected > 0);
    }
  }
}

// Finite values whose sum overflows are not "non-finite": the check looks at the largest.
BOOST_AUTO_TEST_CASE(large_finite_states_are_finite) {
  IntegrateOptions o;
  o.method = Method::euler;
  o.n_steps = 2;
  const Solution s = integrate(decay_field, vec({3e38, 3e38}, DType::f32), 0.0, 0.5, o);
  BOOST_TEST(s.ys.back().to_vector()[0] == s.ys.back().to_vector()[1]);
  BOOST_TEST(std::isfinite(s.ys.back().to_vector()[0]));
  o.method = Method::dopri5;
  o.n_steps = 0;
  BOOST_CHECK_NO_THROW(integrate(decay_field, vec({3e38, 3e38}, DType::f32), 0.0, 0.5, o));
}

// A custom controller that rejects without shrinking the step would retry it until
// max_steps; it is refused at once.
BOOST_AUTO_TEST_CASE(a_rejection_must_shrink_the_step) {
  IntegrateOptions o;
  o.rtol = 1e-10;
  o.atol = 1e-12;
  o.dt0 = 1.0;
  o.controller = [](double err, double) { return StepDecision{err <= 1, 1.0}; };
  const SolverError e = expect_solver_error([&] {
    integrate(rotation_field, reshape(vec({1.0, 0.0}), {1, 2}), 0.0, 10.0, o);
  });
  BOOST_TEST(contains(e.what(), "rejected a step without shrinking it"), e.what());
  BOOST_TEST(e.step() == 1);
}

// The step floor: a few ulps of t, so an interval a few ulps long still lands; near t = 0 a
// long interval does not forbid small steps.
BOOST_AUTO_TEST_CASE(step_floor_follows_t) {
  const double t1 = std::nextafter(std::nextafter(1.0, 2.0), 2.0);
  const Solution s = integrate(decay_field, vec({1.0}), 1.0, t1);
  BOOST_TEST(s.ts.back() == t1);
  BOOST_TEST(std::abs(s.ys.back().item() - std::exp(-(t1 - 1.0))) < 1e-15);
  const double eps = std::numeric_limits<double>::epsilon();
  BOOST_TEST(min_step(0.0, 1e8, 0.0) < 1e-20);
  BOOST_TEST(min_step(2.0, 1e8, 0.0) == 8 * eps);
  BOOST_TEST(min_step(2.0, 1e8, 1e-3) == 1e-3);  // dt_min, when given
}

// What the field returns and the state's dtype are checked where they first meet.
BOOST_AUTO_TEST_CASE(dtype_mismatches_are_named) {
  const VectorField to_f64 = [](double, const Tensor& y) { return to_dtype(y, DType::f64) * -1.0; };
  BOOST_TEST(contains(expect_invalid([&] { integrate(to_f64, vec({1.0}, DType::f32), 0.0, 1.0); }),
                      "component 0 is f64 on cpu, the state's f32 on cpu"));
  BOOST_TEST(
      contains(expect_invalid([&] { integrate(decay_field, arange(3, DType::i64), 0.0, 1.0); }),
               "y0 is i64; states are f32 or f64"));
  IntegrateOptions o;
  o.atol = 1e-50;
  BOOST_TEST(
      contains(expect_invalid([&] { integrate(decay_field, vec({1.0}, DType::f32), 0.0, 1.0, o); }),
               "below the least normal f32"));
  BOOST_CHECK_NO_THROW(integrate(decay_field, vec({1.0}), 0.0, 1.0, o));  // fine in f64
  o.method = Method::rk4;  // a fixed step does not use atol
  o.n_steps = 4;
  BOOST_CHECK_NO_THROW(integrate(decay_field, vec({1.0}, DType::f32), 0.0, 1.0, o));
}

BOOST_AUTO_TEST_CASE(bad_options) {
  const Tensor y0 = vec({1.0});
  auto with = [&](auto set) {
    IntegrateOptions o;
    set(o);
    return expect_invalid([&] { integrate(decay_field, y0, 0.0, 1.0, o); });
  };
  BOOST_TEST(contains(with([](IntegrateOptions& o) { o.rtol = 0; }), "rtol"));
  BOOST_TEST(contains(with([](IntegrateOptions& o) { o.atol = -1; }), "atol"));
  // atol = 0 divides 0 by 0 where a component is 0; infinite tolerances turn control off.
  BOOST_TEST(contains(with([](IntegrateOptions& o) { o.atol = 0; }), "atol"));
  BOOST_TEST(contains(with([](IntegrateOptions& o) { o.rtol = INFINITY; }), "finite"));
  BOOST_TEST(contains(with([](IntegrateOptions& o) { o.atol = INFINITY; }), "finite"));
  BOOST_TEST(contains(with([](IntegrateOptions& o) { o.save_at = {0.5, 1.5}; }), "outside"));
  BOOST_TEST(contains(with([](IntegrateOptions& o) { o.save_at = {-0.1}; }), "outside"));
  BOOST_TEST(contains(with([](IntegrateOptions& o) { o.save_at = {0.6, 0.4}; }), "monotone"));
  BOOST_TEST(contains(with([](IntegrateOptions& o) { o.method = Method::rk4; }), "dt0"));
  BOOST_TEST(contains(with([](IntegrateOptions& o) { o.dt0 = 0.1, o.n_steps = 10; }), "not both"));
  BOOST_TEST(contains(with([](IntegrateOptions& o) { o.dt0 = -0.1; }), "dt0"));
  BOOST_TEST(contains(with([](IntegrateOptions& o) { o.max_steps = 0; }), "max_steps"));
  BOOST_TEST(contains(with([](IntegrateOptions& o) { o.factor_min = 2; }), "factor_min"));
  // Backward in time: save times must decrease.
  IntegrateOptions back;
  back.save_at = {0.2, 0.8};
  BOOST_TEST(
      contains(expect_invalid([&] { integrate(decay_field, y0, 1.0, 0.0, back); }), "monotone"));
  // Unknown method names list the valid ones.
  const std::string msg = expect_invalid([] { method_from_name("rk45"); });
  BOOST_TEST(contains(msg, "rk45"));
  BOOST_TEST(contains(msg, "dopri5"));
  BOOST_TEST(contains(msg, "euler"));
  BOOST_TEST(contains(msg, "dopri8"));
}

BOOST_AUTO_TEST_SUITE_END()
