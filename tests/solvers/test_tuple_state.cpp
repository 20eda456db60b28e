// SPDX-License-Identifier: MIT
// States of several tensors: a tuple solve equals the concatenated one where the norm does not
// matter, holds a small component to the tolerance where a norm over the concatenation would
// average it away, saves and evaluates per component, carries gradients into every component,
// refuses a field that returns the wrong components, and hands back its last state on failure.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "support/solver_problems.hpp"

using namespace flowtape;
using namespace flowtape::solvers;
using namespace flowtape::test;

namespace {

// x: [1, n] decaying slowly (easy to resolve); l: [1, 1] driven by a fast oscillation, so
// l(t) = sin(w t) / w, whose steps set the error. Together the same as one [1, n + 1] state.
constexpr double kW = 20.0;

TensorTuple pair_field(double t, const TensorTuple& y) {
  return {-(y[0] * 0.1), full(Shape{1, 1}, std::cos(kW * t), DType::f64)};
}

Tensor concatenated_field(double t, const Tensor& y) {
  const std::int64_t n = y.size(1) - 1;
  const TensorTuple d = pair_field(t, {slice(y, 1, 0, n), slice(y, 1, n, n + 1)});
  return concat({d[0], d[1]}, 1);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tuple_state)

BOOST_AUTO_TEST_CASE(a_small_component_is_held_to_the_tolerance) {
  const std::int64_t n = 1000;
  const TensorTuple y0 = {ones(Shape{1, n}, DType::f64), zeros(Shape{1, 1}, DType::f64)};
  IntegrateOptions o;
  o.method = Method::dopri5;
  o.rtol = o.atol = 1e-6;
  const double t1 = 3.0, exact_l = std::sin(kW * t1) / kW;
  const TupleSolution tuple = integrate(pair_field, y0, 0.0, t1, o);
  const Solution joined = integrate(concatenated_field, concat({y0[0], y0[1]}, 1), 0.0, t1, o);
  const double tuple_error = std::abs(tuple.ys.back()[1].item() - exact_l);
  const double joined_error = std::abs(slice(joined.ys.back(), 1, n, n + 1).item() - exact_l);
  BOOST_TEST_MESSAGE("l's error: tuple " << tuple_error << " (" << tuple.stats.accepted
                                         << " steps), one tensor " << joined_error << " ("
                                         << joined.stats.accepted << " steps)");
  BOOST_TEST(tuple_error < 10 * o.atol);
  // One RMS over 1001 numbers lets l's error grow ~sqrt(1001) times larger.
  BOOST_TEST(joined_error > 5 * tuple_error);
  BOOST_TEST(tuple.stats.accepted > joined.stats.accepted);
  // x is resolved by both.
  const double exact_x = std::exp(-0.1 * t1);
  BOOST_TEST(std::abs(tuple.ys.back()[0].to_vector()[17] - exact_x) < 1e-6);
}

// With one component, or with a norm that cannot tell the difference (fixed steps), the
// tuple solve is the concatenated solve, bit for bit.
BOOST_AUTO_TEST_CASE(fixed_steps_equal_the_concatenated_solve) {
  const TensorTuple y0 = {full(Shape{1, 3}, 0.5, DType::f64), zeros(Shape{1, 1}, DType::f64)};
  for (Method m : {Method::rk4, Method::dopri5, Method::dop853}) {
    IntegrateOptions o;
    o.method = m;
    o.n_steps = 17;
    o.save_at = {0.4, 1.1};
    const TupleSolution tuple = integrate(pair_field, y0, 0.0, 1.3, o);
    const Solution joined = integrate(concatenated_field, concat({y0[0], y0[1]}, 1), 0.0, 1.3, o);
    BOOST_TEST(tuple.stats.nfe == joined.stats.nfe);
    for (std::size_t i = 0; i < 2; ++i)
      BOOST_TEST(max_abs_diff(concat({tuple.ys[i][0], tuple.ys[i][1]}, 1).to_vector(),
                              joined.ys[i].to_vector()) == 0.0,
                 method_name(m) << " at " << o.save_at[i]);
  }
}

BOOST_AUTO_TEST_CASE(evaluate_gives_every_component) {
  const TensorTuple y0 = {ones(Shape{2, 2}, DType::f64), zeros(Shape{1, 1}, DType::f64)};
  for (Method m : {Method::tsit5, Method::dopri8, Method::dop853}) {
    IntegrateOptions o;
    o.method = m;
    o.rtol = o.atol = 1e-9;
    o.dense = true;
    const TupleSolution s = integrate(pair_field, y0, 0.0, 2.0, o);
    for (double t : {0.3, 1.0, 1.77}) {
      const TensorTuple y = s.evaluate(t);
      BOOST_TEST(y.size() == 2u);
      BOOST_TEST(y[0].shape() == y0[0].shape());
      BOOST_TEST(std::abs(y[0].to_vector()[3] - std::exp(-0.1 * t)) < 1e-8, method_name(m));
      BOOST_TEST(std::abs(y[1].item() - std::sin(kW * t) / kW) < 1e-8, method_name(m));
    }
  }
}

// d/dk of x(1) and l(1) for x' = -k x, l' = k^2 x: the gradient reaches both components.
BOOST_AUTO_TEST_CASE(gradients_reach_every_component) {
  const double k = 0.8;
  Tape tape;
  const Tensor kk = scalar(k, DType::f64);
  tape.watch(kk);
  const TupleField f = [&](double, const TensorTuple& y) {
    return TensorTuple{-(kk * y[0]), kk * kk * y[0]};
  };
  IntegrateOptions o;
  o.rtol = o.atol = 1e-10;
  const TupleSolution s = integrate(f, {vec({1.0}), vec({0.0})}, 0.0, 1.0, o);
  // x(1) = exp(-k), l(1) = k (1 - exp(-k)); their sum's derivative in k:
  const Tensor loss = sum(s.ys.back()[0]) + sum(s.ys.back()[1]);
  const double g = tape.gradient(loss, {kk})[0].item();
  const double exact = -std::exp(-k) + (1 - std::exp(-k)) + k * std::exp(-k);
  BOOST_TEST(std::abs(g - exact) < 1e-8, "tape " << g << " vs exact " << exact);
}

BOOST_AUTO_TEST_CASE(a_field_with_the_wrong_components_is_refused) {
  const TensorTuple y0 = {vec({1.0, 2.0}), vec({0.0})};
  const auto refused = [&](const TupleField& f, const std::string& part) {
    for (int n_steps : {0, 4}) {
      IntegrateOptions o;
      o.n_steps = n_steps;
      BOOST_CHECK_EXCEPTION(integrate(f, y0, 0.0, 1.0, o), std::invalid_argument,
                            [&](const std::invalid_argument& e) {
                              BOOST_TEST_MESSAGE(e.what());
                              return std::string(e.what()).find(part) != std::string::npos;
                            });
    }
  };
  refused([](double, const TensorTuple& y) { return TensorTuple{y[0]}; },
          "returned 1 components for a state of 2");
  refused(
      [](double, const TensorTuple& y) {
        return TensorTuple{y[0], y[0]};
      },
      "component 1 has shape");
  BOOST_CHECK_THROW(integrate(pair_field, TensorTuple{}, 0.0, 1.0), std::invalid_argument);
  BOOST_CHECK_THROW(integrate(pair_field, TensorTuple{vec({1.0}), Tensor()}, 0.0, 1.0),
                    std::invalid_argument);
}

// NaN in the first component only: the per-component norm must not let the second, finite
// component hide it (every adaptive method, dop853's combined estimate included).
BOOST_AUTO_TEST_CASE(nan_in_one_component_is_not_hidden) {
  const TupleField f = [](double t, const TensorTuple& y) {
    return TensorTuple{t > 0.5 ? y[0] * std::numeric_limits<double>::quiet_NaN() : -y[0], -y[1]};
  };
  for (Method m : {Method::dopri5, Method::tsit5, Method::dopri8, Method::dop853}) {
    IntegrateOptions o;
    o.method = m;
    BOOST_CHECK_EXCEPTION(integrate(f, {vec({1.0}), vec({2.0})}, 0.0, 1.0, o), SolverError,
                          [&](const SolverError& e) {
                            BOOST_TEST_MESSAGE(e.what());
                            return e.last_t() > 0.3 && e.last_t() <= 0.5 + 1e-12;
                          });
  }
}

// A blow-up in one component: the error hands back the last accepted tuple.
BOOST_AUTO_TEST_CASE(a_failure_hands_back_the_last_state) {
  const TupleField f = [](double, const TensorTuple& y) {
    return TensorTuple{y[0] * 0.0, square(y[1])};
  };
  try {
    integrate(f, {vec({3.0}), vec({1.0})}, 0.0, 2.0);
    BOOST_FAIL("the solve should not reach t = 2");
  } catch (const SolverError& e) {
    BOOST_TEST(e.last_state().size() == 2u);
    BOOST_TEST(e.last_state()[0].item() == 3.0);
    // y' = y^2 from 1: y(t) = 1 / (1 - t), which the solve follows up to the pole.
    BOOST_TEST(e.last_t() > 0.99);
    BOOST_TEST(e.last_t() < 1.001);
    BOOST_TEST(e.last_state()[1].item() > 1e6);
  }
}

BOOST_AUTO_TEST_SUITE_END()
