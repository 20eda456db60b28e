// SPDX-License-Identifier: MIT
// Gradients of a loss on an ODE solution by the continuous adjoint and by direct
// backpropagation: both against the exact gradient of a linear problem, against each other on
// an MLP field (adaptive and fixed grids), the adjoint's memory flat over 10x more steps while
// the direct method's grows, and bad arguments refused.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <vector>

#include "flowtape/runtime/allocator.hpp"
#include "support/solver_problems.hpp"

using namespace flowtape;
using namespace flowtape::solvers;
using namespace flowtape::test;

namespace {

double relative_gap(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector(), y = b.to_vector();
  double num = 0, den = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    num = std::max(num, std::abs(x[i] - y[i]));
    den = std::max(den, std::abs(y[i]));
  }
  return num / den;
}

// A small tanh MLP field on a [16, 2] batch, its weights the parameters.
struct MlpProblem {
  Tensor w1, b1, w2;
  Tensor x0;
  MlpProblem() {
    Generator gen(5);
    w1 = randn({2, 16}, gen, DType::f64) * 0.8;
    b1 = randn({16}, gen, DType::f64) * 0.1;
    w2 = randn({16, 2}, gen, DType::f64) * 0.4;
    x0 = randn({16, 2}, gen, DType::f64);
  }
  VectorField field() const {
    return [this](double t, const Tensor& y) {
      return matmul(tanh(matmul(y, w1) + b1 * (1 + 0.5 * std::sin(3 * t))), w2);
    };
  }
  std::vector<Tensor> params() const { return {w1, b1, w2}; }
};

Tensor mean_square(const Tensor& y) {
  return mean(square(y));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(adjoint)

// y' = -k y, L = sum(y(1)^2) with y0 = (1, 2): dL/dk = -2 k-free exact forms below.
BOOST_AUTO_TEST_CASE(both_methods_give_the_exact_gradient_of_a_linear_flow) {
  const double k = 0.7;
  const Tensor kk = scalar(k, DType::f64);
  const VectorField f = [&](double, const Tensor& y) { return -(kk * y); };
  const auto l = [](const Tensor& y) { return sum(square(y)); };
  AdjointOptions o;
  o.solver.rtol = 1e-10;
  o.solver.atol = 1e-12;
  for (GradientMethod m : {GradientMethod::direct, GradientMethod::adjoint}) {
    const SolveGradients g = solve_value_and_grad(f, {kk}, vec({1.0, 2.0}), 0.0, 1.0, l, m, o);
    // L = 5 exp(-2k): dL/dk = -10 exp(-2k); dL/dy0 = 2 y0 exp(-2k).
    BOOST_TEST(std::abs(g.loss.item() - 5 * std::exp(-2 * k)) < 1e-9);
    BOOST_TEST(std::abs(g.grad_params[0].item() + 10 * std::exp(-2 * k)) < 1e-8);
    BOOST_TEST(max_abs_diff(g.grad_y0.to_vector(), {2 * std::exp(-2 * k), 4 * std::exp(-2 * k)}) <
               1e-8);
    BOOST_TEST((m == GradientMethod::direct) == (g.backward.nfe == 0));
  }
}

// The adjoint is the gradient of the exact flow; the direct one, of the computed solution: they
// agree to about the tolerance, for each method, adaptive, and on a fixed grid (where they
// differ by the grid's discretisation error).
BOOST_AUTO_TEST_CASE(adjoint_matches_direct_backpropagation) {
  const MlpProblem p;
  struct Case {
    Method method;
    int n_steps;
    double tol, bound;
  };
  for (const Case c : {Case{Method::dopri5, 0, 1e-9, 1e-6}, Case{Method::tsit5, 0, 1e-9, 1e-6},
                       Case{Method::dop853, 0, 1e-10, 1e-7}, Case{Method::rk4, 200, 0, 1e-6}}) {
    BOOST_TEST_CONTEXT(method_name(c.method)) {
      AdjointOptions o;
      o.solver.method = c.method;
      o.solver.n_steps = c.n_steps;
      if (c.tol > 0) o.solver.rtol = o.solver.atol = c.tol;
      const SolveGradients d = solve_value_and_grad(p.field(), p.params(), p.x0, 0.0, 2.0,
                                                    mean_square, GradientMethod::direct, o);
      const SolveGradients a = solve_value_and_grad(p.field(), p.params(), p.x0, 0.0, 2.0,
                                                    mean_square, GradientMethod::adjoint, o);
      BOOST_TEST(a.loss.item() == d.loss.item());  // the same forward solve
      BOOST_TEST(relative_gap(a.grad_y0, d.grad_y0) < c.bound);
      for (std::size_t i = 0; i < 3; ++i) {
        const double gap = relative_gap(a.grad_params[i], d.grad_params[i]);
        BOOST_TEST_MESSAGE("param " << i << ": relative gap " << gap << ", backward NFE "
                                    << a.backward.nfe << " (forward " << a.forward.nfe << ")");
        BOOST_TEST(gap < c.bound, "param " << i);
      }
    }
  }
}

// A loss that also uses a parameter directly (a weight penalty): the adjoint adds that part to
// the one through the trajectory, as backpropagation does.
BOOST_AUTO_TEST_CASE(a_loss_using_the_parameters_directly_gets_their_direct_gradient) {
  const MlpProblem p;
  const auto penalised = [&](const Tensor& y) { return mean_square(y) + sum(square(p.w2)); };
  AdjointOptions o;
  o.solver.rtol = o.solver.atol = 1e-9;
  const SolveGradients d = solve_value_and_grad(p.field(), p.params(), p.x0, 0.0, 2.0, penalised,
                                                GradientMethod::direct, o);
  const SolveGradients a = solve_value_and_grad(p.field(), p.params(), p.x0, 0.0, 2.0, penalised,
                                                GradientMethod::adjoint, o);
  for (std::size_t i = 0; i < 3; ++i)
    BOOST_TEST(relative_gap(a.grad_params[i], d.grad_params[i]) < 1e-6, "param " << i);
}

// Memory: on 10x the steps (an rk4 grid of 40 and of 400 steps on the same interval) the direct
// method holds a tape that grows with the steps, the adjoint only its checkpoints, its
// augmented state and one evaluation's tape. Peak bytes in use, counted by the allocator.
BOOST_AUTO_TEST_CASE(adjoint_memory_is_flat_in_the_number_of_steps) {
  const MlpProblem p;
  const auto peak = [&](int n_steps, GradientMethod m) {
    AdjointOptions o;
    o.solver.method = Method::rk4;
    o.solver.n_steps = n_steps;
    detail::reset_peak_live_bytes();
    const std::size_t before = detail::live_bytes();
    const SolveGradients g =
        solve_value_and_grad(p.field(), p.params(), p.x0, 0.0, 2.0, mean_square, m, o);
    BOOST_TEST(g.forward.accepted == n_steps);
    return static_cast<double>(detail::peak_live_bytes() - before);
  };
  const double direct_short = peak(40, GradientMethod::direct);
  const double direct_long = peak(400, GradientMethod::direct);
  const double adjoint_short = peak(40, GradientMethod::adjoint);
  const double adjoint_long = peak(400, GradientMethod::adjoint);
  BOOST_TEST_MESSAGE("peak bytes over 40 -> 400 steps: direct "
                     << direct_short << " -> " << direct_long << ", adjoint " << adjoint_short
                     << " -> " << adjoint_long);
  BOOST_TEST(direct_long > 5 * direct_short);
  BOOST_TEST(adjoint_long < 1.2 * adjoint_short);
  BOOST_TEST(adjoint_long < direct_long / 20);
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_refused) {
  const MlpProblem p;
  const auto refused = [&](const VectorField& f, const std::function<Tensor(const Tensor&)>& l,
                           const AdjointOptions& o, const std::string& part) {
    BOOST_CHECK_EXCEPTION(
        solve_value_and_grad(f, p.params(), p.x0, 0.0, 1.0, l, GradientMethod::adjoint, o),
        std::invalid_argument, [&](const std::invalid_argument& e) {
          BOOST_TEST_MESSAGE(e.what());
          return std::string(e.what()).find(part) != std::string::npos;
        });
  };
  refused(VectorField(), mean_square, {}, "the vector field is empty");
  refused(p.field(), {}, {}, "the loss is empty");
  refused(
      p.field(), [](const Tensor& y) { return square(y); }, {}, "must return a scalar");
  AdjointOptions saving;
  saving.solver.save_at = {0.5};
  refused(p.field(), mean_square, saving, "leave save_at empty");
  AdjointOptions dt_grid;
  dt_grid.solver.method = Method::rk4;
  dt_grid.solver.dt0 = 0.1;
  refused(p.field(), mean_square, dt_grid, "needs n_steps");
  AdjointOptions none;
  none.checkpoints = 0;
  refused(p.field(), mean_square, none, "checkpoints must be >= 1");
  AdjointOptions infinite;
  infinite.adjoint_rtol = INFINITY;  // refused before the forward solve, not after it
  refused(p.field(), mean_square, infinite, "must be finite");
  AdjointOptions too_many;
  too_many.solver.max_steps = 4;
  too_many.checkpoints = 8;
  refused(p.field(), mean_square, too_many, "checkpoints must be <= solver.max_steps");
  // On a fixed grid of 4 steps only 4 checkpoints are used: 8 is not too many.
  AdjointOptions grid = too_many;
  grid.solver.method = Method::rk4;
  grid.solver.n_steps = 4;
  BOOST_CHECK_NO_THROW(solve_value_and_grad(p.field(), p.params(), p.x0, 0.0, 1.0, mean_square,
                                            GradientMethod::adjoint, grid));
  // Inside a caller's Tape: refused up front, saying why.
  Tape outer;
  BOOST_CHECK_EXCEPTION(solve_value_and_grad(p.field(), p.params(), p.x0, 0.0, 1.0, mean_square,
                                             GradientMethod::direct),
                        std::logic_error, [](const std::logic_error& e) {
                          return std::string(e.what()).find("a Tape is active") !=
                                 std::string::npos;
                        });
}

BOOST_AUTO_TEST_SUITE_END()
