// SPDX-License-Identifier: MIT
// Tableau, fresh-step and Hermite interpolants, written with differentiable ops so saved
// states carry gradients like stepped ones.
#include "flowtape/solvers/dense_output.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/ops.hpp"
#include "flowtape/solvers/stepper.hpp"

namespace flowtape::solvers {
namespace {

bool needs_end_derivative(const Tableau& tab) {
  return tab.dense_stages > 0 || (tab.dense_degree == 0 && !tab.dense_by_restep);
}

}  // namespace

void complete_step_record(const Tableau& tab, const VectorField& f, StepRecord& step, long& nfe) {
  if (!needs_end_derivative(tab)) return;
  if (!step.f1.defined()) {
    step.f1 = f(step.tb, step.y1);
    ++nfe;
  }
  if (tab.dense_stages > 0 && step.k.size() == static_cast<std::size_t>(tab.stages))
    add_dense_stages(tab, f, step.ta, step.y0, step.tb - step.ta, step.f1, step.k, nfe);
}

Tensor interpolate(const Tableau& tab, const StepRecord& step, double theta, const VectorField& f,
                   long& nfe) {
  const double h = step.tb - step.ta;
  if (tab.dense_degree > 0) {
    Tensor acc;
    for (int i = 0; i < tab.stages + tab.dense_stages; ++i) {
      // P_i(theta) by Horner's rule on sum_j dense[i][j] theta^(j + 1).
      const auto& d = tab.dense[static_cast<std::size_t>(i)];
      double p = 0;
      for (int j = tab.dense_degree - 1; j >= 0; --j)
        p = p * theta + d[static_cast<std::size_t>(j)];
      p *= theta;
      if (p == 0.0) continue;
      const Tensor term = step.k[static_cast<std::size_t>(i)] * (h * p);
      acc = acc.defined() ? acc + term : term;
    }
    return acc.defined() ? step.y0 + acc : step.y0;
  }
  if (tab.dense_by_restep) return rk_step(tab, f, step.ta, step.y0, step.f0, theta * h, nfe).y1;
  // Cubic Hermite basis on [0, 1].
  const double t2 = theta * theta, t3 = t2 * theta;
  const double h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + theta;
  const double h01 = -2 * t3 + 3 * t2, h11 = t3 - t2;
  return step.y0 * h00 + step.y1 * h01 + step.f0 * (h * h10) + step.f1 * (h * h11);
}

DenseOutput::DenseOutput(const Tableau& tab, const VectorField& f, double t0, double t1)
    : tab_(tab), f_(tab.dense_by_restep ? f : VectorField()), t0_(t0), t1_(t1) {}

void DenseOutput::add(StepRecord step) {
  steps_.push_back(std::move(step));
}

Tensor DenseOutput::at(double t) const {
  const double dir = t1_ >= t0_ ? 1.0 : -1.0;
  if (!std::isfinite(t) || (t - t0_) * dir < 0 || (t - t1_) * dir > 0)
    throw std::invalid_argument("Solution::evaluate: t = " + std::to_string(t) +
                                " is outside [t0, t1] = [" + std::to_string(t0_) + ", " +
                                std::to_string(t1_) + "]");
  if (steps_.empty()) throw std::logic_error("Solution::evaluate: the solve took no steps");
  // The first step whose end is at or beyond t.
  std::size_t lo = 0, hi = steps_.size() - 1;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if ((steps_[mid].tb - t) * dir >= 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  const StepRecord& s = steps_[lo];
  if (t == s.tb) return s.y1;
  if (t == s.ta) return s.y0;
  long nfe = 0;  // evaluations after the solve are not the solve's
  return interpolate(tab_, s, (t - s.ta) / (s.tb - s.ta), f_, nfe);
}

}  // namespace flowtape::solvers
