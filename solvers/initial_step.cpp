// SPDX-License-Identifier: MIT
// Starting step size selection (values only, unrecorded).
#include "flowtape/solvers/initial_step.hpp"

#include <algorithm>
#include <cmath>

#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"
#include "flowtape/autodiff/verbs.hpp"
#include "flowtape/solvers/error_norm.hpp"

namespace flowtape::solvers {

double initial_step(const VectorField& f, double t0, const Tensor& y0, const Tensor& f0, int order,
                    double dir, double span, const IntegrateOptions& opts, long& nfe) {
  NoGrad no_grad;
  const Tensor y = stop_gradient(y0), dy = stop_gradient(f0);
  const auto norm = [&](const Tensor& v) {
    return scaled_norm(v, y, Tensor(), opts.rtol, opts.atol, opts.norm);
  };
  const double d0 = norm(y), d1 = norm(dy);
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  h0 = std::min(h0, span);
  // One explicit Euler step to estimate the size of the second derivative.
  const Tensor f1 = stop_gradient(f(t0 + dir * h0, y + dy * (dir * h0)));
  ++nfe;
  const double d2 = norm(f1 - dy) / h0;
  const double dmax = std::max(d1, d2);
  const double h1 =
      dmax <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / dmax, 1.0 / (order + 1));
  const double h = std::min(100 * h0, h1);
  // A non-finite second derivative estimate leaves the controller to find the scale.
  return std::isfinite(h) ? std::min(h, span) : h0;
}

}  // namespace flowtape::solvers
