// SPDX-License-Identifier: MIT
// The PID step-size controller (Gustafsson; Söderlind, "Digital filters in adaptive
// time-stepping", 2003; Hairer & Wanner, Solving ODEs II, IV.2), in diffrax's coefficients:
//
//   factor = safety * err_n^(-(p + i + d) / k) * err_{n-1}^((p + 2 d) / k) * err_{n-2}^(-d / k)
//
// with k = error order + 1 and (p, i, d) = (pcoeff, icoeff, dcoeff): the default (0.4, 0.3, 0)
// is the PI controller diffrax recommends, (0, 1, 0) the I controller. The factor is clipped to
// [factor_min, factor_max], and never above 1 right after a rejection. A rejected step is
// retried with the plain I-controller factor safety * err^(-1 / k). All decisions are made on
// values (doubles): no gradient flows through step sizes (discretise-then-optimise, as
// torchdiffeq and diffrax do by default).
#pragma once

#include "flowtape/solvers/options.hpp"

namespace flowtape::solvers {

class PIDController {
 public:
  PIDController(const IntegrateOptions& opts, int error_order);
  // err: the scaled error norm of the step just tried (<= 1 is within tolerance).
  StepDecision decide(double err);
  // A trial step rejected for a non-finite error: the next accepted step may not grow either.
  void note_rejection() { last_rejected_ = true; }

 private:
  double safety_, factor_min_, factor_max_;
  double e0_, e1_, e2_, k_;  // the exponents of err_n, err_{n-1}, err_{n-2}
  double err_prev_ = 1.0, err_prev2_ = 1.0;
  bool last_rejected_ = false;
};

// The smallest step magnitude allowed at time t: the option if set, else 4 ulps of
// max(|t|, eps span), below which t + h == t or the step is lost in rounding.
double min_step(double t, double span, double dt_min_option);

}  // namespace flowtape::solvers
