// SPDX-License-Identifier: MIT
// The closed-form empirical velocity: hand values (docs/objectives.md), agreement with a
// Monte-Carlo estimate of E[x1 - x0 | x_t = x], its gradient, and the EFM target's construction.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "flowtape/flows/closed_form.hpp"
#include "flowtape/flows/losses.hpp"
#include "support/gradcheck.hpp"

using namespace flowtape;
using namespace flowtape::flows;
using flowtape::test::rel_error;

BOOST_AUTO_TEST_SUITE(closed_form)

BOOST_AUTO_TEST_CASE(matches_hand_values) {
  const Tensor data = from_vector(std::vector<double>{1, 0, -1, 0}, Shape{2, 2}, DType::f64);
  const Tensor x = from_vector(std::vector<double>{0.2, 0.1}, Shape{1, 2}, DType::f64);
  const Tensor t = scalar(0.5, DType::f64);
  const Tensor w = empirical_weights(x, t, data);
  BOOST_TEST(w.at(0) == 0.689974, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(w.at(1) == 0.310026, boost::test_tools::tolerance(1e-5));
  const Tensor u = empirical_velocity(x, t, data);
  BOOST_TEST(u.at(0) == 0.359898, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(u.at(1) == -0.2, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(equals_a_monte_carlo_conditional_expectation) {
  // 1-D data {-1, 0.5, 2}; E[x1 - x0 | x_t = x] by kernel regression on 4e6 draws of
  // (x0 ~ N(0,1), x1 ~ data) in a window of half-width h around x. Window bias is O(h^2).
  const std::vector<double> pts = {-1.0, 0.5, 2.0};
  const Tensor data = from_vector(pts, Shape{3, 1}, DType::f64);
  Generator gen(17);
  for (const auto& [x, t] :
       std::vector<std::pair<double, double>>{{0.3, 0.4}, {-0.5, 0.7}, {1.2, 0.2}}) {
    const double h = 0.01;
    double s = 0, q = 0;
    std::int64_t n = 0;
    for (int i = 0; i < 4000000; ++i) {
      const double x1 = pts[static_cast<std::size_t>(gen.uniform() * 3) % 3], x0 = gen.normal();
      const double xt = (1 - t) * x0 + t * x1;
      if (std::abs(xt - x) < h) {
        s += x1 - x0;
        q += (x1 - x0) * (x1 - x0);
        ++n;
      }
    }
    const double mc = s / n, se = std::sqrt((q / n - mc * mc) / n);
    const double exact =
        empirical_velocity(full({1, 1}, x, DType::f64), scalar(t, DType::f64), data).item();
    BOOST_TEST_CONTEXT("x " << x << ", t " << t << ": closed form " << exact << ", MC " << mc
                            << " +- " << se << " from " << n << " draws") {
      BOOST_TEST(n > 10000);
      BOOST_TEST(std::abs(exact - mc) < 4 * se + 0.01);
    }
  }
}

BOOST_AUTO_TEST_CASE(is_differentiable_in_x_and_stable_near_one) {
  Generator gen(2);
  const Tensor data = randn({7, 3}, gen, DType::f64);
  const Tensor t = uniform({4, 1}, 0.1, 0.8, gen, DType::f64);
  flowtape::test::check_gradients(
      "empirical_velocity",
      [&](const std::vector<Tensor>& x) { return empirical_velocity(x[0], t, data); },
      {randn({4, 3}, gen, DType::f64)});
  // At t = 1 the field is finite and points at the nearest training point.
  const Tensor x = data + 0.01;
  const Tensor u = empirical_velocity(x, scalar(1.0, DType::f64), data);
  for (double v : u.to_vector()) BOOST_TEST(std::isfinite(v));
  BOOST_TEST(rel_error((u * 1e-4).to_vector(), (data - x).to_vector()) < 1e-6);
  // Far-apart logits do not overflow in f32.
  const Tensor far = to_dtype(data * 1e3, DType::f32);
  for (double v :
       empirical_velocity(to_dtype(x, DType::f32), scalar(0.99, DType::f32), far).to_vector()) {
    BOOST_TEST(std::isfinite(v));
  }
  BOOST_CHECK_THROW(empirical_velocity(zeros({2, 2}), scalar(0.5), zeros({3, 3})),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(f32_agrees_with_f64_near_t_one) {
  // Near t = 1 the logits are ~1e6 in f32; duplicated reference points (a batch's own targets
  // repeat) must still get their share of the weight. A softmax computed as exp(x - lse)
  // failed this by two orders of magnitude.
  Generator gen(3);
  const Tensor data = randn({64, 2}, gen, DType::f64);
  const Tensor ref = concat({data, slice(data, 0, 0, 16)}, 0);  // 16 duplicates
  const Tensor x = 0.999 * slice(data, 0, 0, 32) + 0.001 * randn({32, 2}, gen, DType::f64);
  for (double t : {0.99, 0.999, 0.9999}) {
    const Tensor u64 = empirical_velocity(x, scalar(t, DType::f64), ref);
    const Tensor u32 = empirical_velocity(to_dtype(x, DType::f32), scalar(t, DType::f32),
                                          to_dtype(ref, DType::f32));
    BOOST_TEST_CONTEXT("t " << t) {
      BOOST_TEST(rel_error(u32.to_vector(), u64.to_vector()) < 2e-2);
    }
  }
}

BOOST_AUTO_TEST_CASE(efm_target_uses_the_batch_targets_and_extra_points) {
  Generator gen(4);
  const Tensor x1 = randn({5, 2}, gen, DType::f64), extra = randn({9, 2}, gen, DType::f64);
  const Tensor xt = randn({5, 2}, gen, DType::f64), t = uniform({5, 1}, 0, 1, gen, DType::f64);
  const Tensor target = efm_target(xt, t, x1, extra);
  const Tensor expect = empirical_velocity(xt, t, concat({x1, extra}, 0));
  BOOST_TEST(rel_error(target.to_vector(), expect.to_vector()) < 1e-15);
  // M = 1 (no extra points, one reference per sample) is the CFM target x1 - x0.
  const Tensor x0 = randn({1, 2}, gen, DType::f64), one = slice(x1, 0, 0, 1);
  const Tensor tt = full({1, 1}, 0.3, DType::f64);
  const Tensor xt1 = 0.7 * x0 + 0.3 * one;
  BOOST_TEST(rel_error(efm_target(xt1, tt, one, Tensor()).to_vector(), (one - x0).to_vector()) <
             1e-12);
}

BOOST_AUTO_TEST_SUITE_END()
