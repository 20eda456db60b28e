// SPDX-License-Identifier: MIT
// PI step-size control on doubles.
#include "flowtape/solvers/controller.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace flowtape::solvers {

PIDController::PIDController(const IntegrateOptions& opts, int error_order)
    : safety_(opts.safety),
      factor_min_(opts.factor_min),
      factor_max_(opts.factor_max),
      e0_(-(opts.pcoeff + opts.icoeff + opts.dcoeff) / (error_order + 1)),
      e1_((opts.pcoeff + 2 * opts.dcoeff) / (error_order + 1)),
      e2_(-opts.dcoeff / (error_order + 1)),
      k_(error_order + 1) {}

StepDecision PIDController::decide(double err) {
  if (err <= 1.0) {
    // Floor the errors (as Hairer's codes do) so an exact step cannot produce an infinite
    // factor; factor_max caps the growth anyway.
    const double e = std::max(err, 1e-10);
    double factor = safety_ * std::pow(e, e0_) * std::pow(err_prev_, e1_);
    if (e2_ != 0) factor *= std::pow(err_prev2_, e2_);
    factor = std::clamp(factor, factor_min_, factor_max_);
    if (last_rejected_) factor = std::min(factor, 1.0);
    err_prev2_ = err_prev_;
    err_prev_ = std::max(err, 1e-4);
    last_rejected_ = false;
    return {true, factor};
  }
  last_rejected_ = true;
  return {false, std::clamp(safety_ * std::pow(err, -1.0 / k_), factor_min_, 1.0)};
}

double min_step(double t, double span, double dt_min_option) {
  if (dt_min_option > 0) return dt_min_option;
  // A step below a few ulps of t cannot move t. Near t = 0 the floor follows the span's ulps
  // instead, far below them: a long interval does not forbid the small steps a transient at
  // its start may need.
  constexpr double eps = std::numeric_limits<double>::epsilon();
  return 4.0 * eps * std::max(std::abs(t), eps * std::abs(span));
}

}  // namespace flowtape::solvers
