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

double initial_step(const TupleField& f, double t0, const TensorTuple& y0, const TensorTuple& f0,
                    int order, double dir, double span, const IntegrateOptions& opts, long& nfe) {
  NoGrad no_grad;
  const std::size_t n = y0.size();
  TensorTuple y(n), dy(n);
  for (std::size_t c = 0; c < n; ++c) {
    y[c] = stop_gradient(y0[c]);
    dy[c] = stop_gradient(f0[c]);
  }
  const auto norm = [&](const TensorTuple& v) {
    return scaled_norm(v, y, {}, opts.rtol, opts.atol, opts.norm);
  };
  const double d0 = norm(y), d1 = norm(dy);
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  // A norm that overflowed (f32 squares past 3.4e38) or is NaN gives no scale: a small first
  // step, which the controller grows, where 0.01 d0 / inf = 0 would end the solve at once.
  if (!(h0 > 0) || !std::isfinite(h0)) h0 = 1e-6;
  h0 = std::min(h0, span);
  // One explicit Euler step to estimate the size of the second derivative.
  TensorTuple y_euler(n), df(n);
  for (std::size_t c = 0; c < n; ++c) y_euler[c] = y[c] + dy[c] * (dir * h0);
  const TensorTuple f1 = f(t0 + dir * h0, y_euler);
  ++nfe;
  for (std::size_t c = 0; c < n; ++c) df[c] = stop_gradient(f1[c]) - dy[c];
  const double d2 = norm(df) / h0;
  // A non-finite derivative estimate (std::max would drop a NaN) leaves the controller to
  // find the scale from h0.
  if (!std::isfinite(d1) || !std::isfinite(d2)) return h0;
  const double dmax = std::max(d1, d2);
  const double h1 =
      dmax <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / dmax, 1.0 / (order + 1));
  const double h = std::min(100 * h0, h1);
  return h > 0 && std::isfinite(h) ? std::min(h, span) : h0;
}

}  // namespace flowtape::solvers
