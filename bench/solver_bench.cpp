// SPDX-License-Identifier: MIT
// ODE solver benchmark: flowtape's integrate() against Boost.Odeint's controlled dopri5 run in
// the same process. (1) Solver overhead per step on a [1024, 2] batch with a cheap rotation
// field; (2) NFE and time on a fixed random 2-layer tanh MLP field (2 -> 64 -> 2) for a
// [1024, 2] batch, the same field written with plain loops on std::vector for odeint. Prints
// markdown tables with ratios.
#include <boost/numeric/odeint.hpp>
#include <cmath>
#include <cstdio>
#include <vector>

#include "bench/timing.hpp"
#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/solvers/solvers.hpp"

using namespace flowtape;
using namespace flowtape::solvers;
namespace ode = boost::numeric::odeint;
using State = std::vector<double>;
using Stepper = ode::runge_kutta_dopri5<State>;
using Checker = ode::default_error_checker<double, Stepper::algebra_type, Stepper::operations_type>;
using Controlled = ode::controlled_runge_kutta<Stepper, Checker>;

namespace {

constexpr std::int64_t kBatch = 1024, kHidden = 64;

// odeint with the same error scale as ours (atol + rtol |x|); returns the number of RHS calls.
template <class Sys>
long odeint_solve(Sys& sys, State& x, double t1, double tol, double dt0) {
  return static_cast<long>(
      ode::integrate_adaptive(Controlled(Checker(tol, tol, 1.0, 0.0)), sys, x, 0.0, t1, dt0));
}

}  // namespace

int main() {
  Generator gen(0);
  const Tensor y0 = randn({kBatch, 2}, gen, DType::f64);
  const State x0 = y0.to_vector();

  // --- (1) overhead per step: rotation field -------------------------------------------------
  const Tensor rot = [] {
    const double v[] = {0.0, 1.0, -1.0, 0.0};
    return from_vector(std::span<const double>(v, 4), Shape({2, 2}), DType::f64);
  }();
  const VectorField rotation = [&](double, const Tensor& y) { return matmul(y, rot); };
  auto rot_sys = [](const State& x, State& d, double) {
    for (std::size_t i = 0; i < x.size(); i += 2) {
      d[i] = -x[i + 1];
      d[i + 1] = x[i];
    }
  };
  IntegrateOptions o;
  o.rtol = o.atol = 1e-6;
  o.dt0 = 0.01;
  Stats rot_stats;
  const double t_ours =
      bench::median_seconds([&] { rot_stats = integrate(rotation, y0, 0.0, 10.0, o).stats; });
  long rot_odeint_steps = 0;
  const double t_odeint = bench::median_seconds([&] {
    State x = x0;
    rot_odeint_steps = odeint_solve(rot_sys, x, 10.0, 1e-6, 0.01);
  });
  // The field alone, to subtract: time of one evaluation times NFE.
  const double t_field = bench::median_seconds([&] { rotation(0.0, y0); });
  const double steps = static_cast<double>(rot_stats.accepted + rot_stats.rejected);
  std::printf(
      "### Solver overhead per step, dopri5, [1024, 2] rotation, rtol = atol = 1e-6, t in [0, "
      "10]\n\n");
  std::printf("| | steps | NFE | time per step (us) | overhead per step, field excluded (us) |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: |\n");
  std::printf("| flowtape | %.0f | %ld | %.1f | %.1f |\n", steps, rot_stats.nfe,
              t_ours / steps * 1e6,
              (t_ours - t_field * static_cast<double>(rot_stats.nfe)) / steps * 1e6);
  std::printf("| Boost.Odeint | %ld | - | %.1f | - |\n\n", rot_odeint_steps,
              t_odeint / static_cast<double>(rot_odeint_steps) * 1e6);

  // --- (2) MLP field ---------------------------------------------------------------------------
  const Tensor w1 = randn({2, kHidden}, gen, DType::f64), b1 = randn({kHidden}, gen, DType::f64);
  const Tensor w2 = randn({kHidden, 2}, gen, DType::f64) * (1.0 / std::sqrt(double(kHidden)));
  const VectorField mlp = [&](double, const Tensor& y) {
    return matmul(tanh(matmul(y, w1) + b1), w2);
  };
  const auto W1 = w1.to_vector(), B1 = b1.to_vector(), W2 = w2.to_vector();
  long mlp_calls = 0;
  auto mlp_sys = [&](const State& x, State& d, double) {
    ++mlp_calls;
    double hbuf[kHidden];
    for (std::int64_t n = 0; n < kBatch; ++n) {
      const double a = x[2 * n], b = x[2 * n + 1];
      for (std::int64_t j = 0; j < kHidden; ++j)
        hbuf[j] = std::tanh(a * W1[j] + b * W1[kHidden + j] + B1[j]);
      double d0 = 0, d1 = 0;
      for (std::int64_t j = 0; j < kHidden; ++j) {
        d0 += hbuf[j] * W2[2 * j];
        d1 += hbuf[j] * W2[2 * j + 1];
      }
      d[2 * n] = d0;
      d[2 * n + 1] = d1;
    }
  };
  std::printf("### dopri5 on a [1024, 2] batch, 2-64-2 tanh MLP field, t in [0, 1]\n\n");
  std::printf(
      "| rtol = atol | flowtape NFE | odeint NFE | flowtape ms | odeint ms | time ratio (flowtape "
      "/ odeint) | max abs diff |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (double tol : {1e-4, 1e-6, 1e-8}) {
    IntegrateOptions m;
    m.rtol = m.atol = tol;
    m.dt0 = 0.01;
    Solution sol;
    const double t_f =
        bench::median_seconds([&] { sol = integrate(mlp, y0, 0.0, 1.0, m); }, 0.2, 3);
    State x;
    const double t_o = bench::median_seconds(
        [&] {
          x = x0;
          mlp_calls = 0;
          odeint_solve(mlp_sys, x, 1.0, tol, 0.01);
        },
        0.2, 3);
    double diff = 0;
    const auto y = sol.ys.back().to_vector();
    for (std::size_t i = 0; i < y.size(); ++i) diff = std::max(diff, std::abs(y[i] - x[i]));
    std::printf("| %.0e | %ld | %ld | %.2f | %.2f | %.2f | %.1e |\n", tol, sol.stats.nfe, mlp_calls,
                t_f * 1e3, t_o * 1e3, t_f / t_o, diff);
  }
  return 0;
}
