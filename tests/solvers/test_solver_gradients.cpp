// SPDX-License-Identifier: MIT
// Differentiating through a solve (discretise-then-optimise): dL/dk for y' = -k y against
// central finite differences of the same solver and against the exact derivative, fixed and
// adaptive, through saved (interpolated) states too; and the weights of an MLP field.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <vector>

#include "support/solver_problems.hpp"

using namespace flowtape;
using namespace flowtape::solvers;
using namespace flowtape::test;

namespace {

// L(k) = sum over saved states of sum(y^2), y' = -k y, y(0) = (1, 2), on [0, 1].
double loss_value(double k, const IntegrateOptions& o) {
  const Tensor kk = scalar(k, DType::f64);
  const Solution s =
      integrate([&](double, const Tensor& y) { return -(kk * y); }, vec({1.0, 2.0}), 0.0, 1.0, o);
  double l = 0;
  for (const Tensor& y : s.ys) l += sum(square(y)).item();
  return l;
}

double loss_grad(double k, const IntegrateOptions& o) {
  Tape tape;
  const Tensor kk = scalar(k, DType::f64);
  tape.watch(kk);
  const Solution s =
      integrate([&](double, const Tensor& y) { return -(kk * y); }, vec({1.0, 2.0}), 0.0, 1.0, o);
  Tensor l = scalar(0.0, DType::f64);
  for (const Tensor& y : s.ys) l = l + sum(square(y));
  return tape.gradient(l, {kk})[0].item();
}

// Exact: L = 5 sum_t exp(-2 k t), dL/dk = -10 sum_t t exp(-2 k t).
double exact_grad(double k, const std::vector<double>& ts) {
  double g = 0;
  for (double t : ts) g += -10 * t * std::exp(-2 * k * t);
  return g;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(solver_gradients)

BOOST_AUTO_TEST_CASE(decay_rate_fixed_and_adaptive) {
  const double k = 0.7, h = 1e-6;
  for (Method m : {Method::rk4, Method::euler, Method::dopri5, Method::tsit5, Method::bosh3,
                   Method::dopri8, Method::dop853}) {
    for (bool save : {false, true}) {
      BOOST_TEST_CONTEXT(method_name(m) << (save ? ", saved at 0.3, 0.75, 1" : ", final state")) {
        IntegrateOptions o;
        o.method = m;
        if (m == Method::rk4 || m == Method::euler) o.n_steps = 50;
        o.rtol = 1e-9;
        o.atol = 1e-11;
        if (save) o.save_at = {0.3, 0.75, 1.0};
        const double g = loss_grad(k, o);
        const double fd = (loss_value(k + h, o) - loss_value(k - h, o)) / (2 * h);
        // The tape differentiates exactly the computation done; the finite difference also
        // sees step sizes move with k, an effect of the order of the tolerance.
        BOOST_TEST(std::abs(g - fd) < 1e-6 * std::abs(fd), "tape " << g << " vs fd " << fd);
        const double exact = exact_grad(k, save ? o.save_at : std::vector<double>{1.0});
        const double tol = m == Method::euler ? 0.05 : 1e-6;  // euler: O(h) discretisation
        BOOST_TEST(std::abs(g - exact) < tol * std::abs(exact),
                   "tape " << g << " vs exact " << exact);
      }
    }
  }
}

// The weights of a small tanh MLP field, through an adaptive dopri5 solve of a batch, checked
// by central differences on a few weights.
BOOST_AUTO_TEST_CASE(mlp_field_weights) {
  Generator gen(3);
  const Tensor w1 = randn({2, 8}, gen, DType::f64) * 0.7, w2 = randn({8, 2}, gen, DType::f64) * 0.5;
  const Tensor x0 = randn({16, 2}, gen, DType::f64);
  IntegrateOptions o;
  o.rtol = 1e-10;
  o.atol = 1e-12;
  auto loss = [&](const Tensor& a) {
    const Solution s = integrate(
        [&](double, const Tensor& y) { return matmul(tanh(matmul(y, a)), w2); }, x0, 0.0, 1.0, o);
    return mean(square(s.ys.back()));
  };
  Tensor g;
  {
    Tape tape;
    tape.watch(w1);
    g = tape.gradient(loss(w1), {w1})[0];
  }
  const double h = 1e-6;
  for (std::int64_t j : {0, 5, 11, 15}) {
    Tensor e = zeros_like(w1);
    e.mutable_data<double>()[j] = 1.0;
    const double fd = (loss(shifted(w1, e, h)).item() - loss(shifted(w1, e, -h)).item()) / (2 * h);
    BOOST_TEST(std::abs(g.at(j) - fd) < 1e-6 * std::max(1.0, std::abs(fd)),
               "weight " << j << ": " << g.at(j) << " vs " << fd);
  }
}

BOOST_AUTO_TEST_SUITE_END()
