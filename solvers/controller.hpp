// SPDX-License-Identifier: MIT
// The PI step-size controller (Gustafsson; Hairer & Wanner, Solving ODEs II, IV.2; the
// pcoeff = 0.4, icoeff = 0.3 setting diffrax recommends):
//
//   factor = safety * err_n^(-0.7 / k) * err_{n-1}^(0.4 / k),   k = error order + 1,
//
// clipped to [factor_min, factor_max], and never above 1 right after a rejection. A rejected
// step is retried with the plain I-controller factor safety * err^(-1 / k). All decisions are
// made on values (doubles): no gradient flows through step sizes (discretise-then-optimise, as
// torchdiffeq and diffrax do by default).
#pragma once

#include "flowtape/solvers/options.hpp"

namespace flowtape::solvers {

struct StepDecision {
  bool accept;
  double factor;  // next h = factor * this h
};

class PIController {
 public:
  PIController(const IntegrateOptions& opts, int error_order);
  // err: the scaled error norm of the step just tried (<= 1 is within tolerance).
  StepDecision decide(double err);

 private:
  double safety_, factor_min_, factor_max_;
  double alpha_, beta_, k_;
  double err_prev_ = 1.0;
  bool last_rejected_ = false;
};

// The smallest step magnitude allowed at time t: the option if set, else a few ulps of
// max(|t|, span), below which t + h == t or the step is lost in rounding.
double min_step(double t, double span, double dt_min_option);

}  // namespace flowtape::solvers
