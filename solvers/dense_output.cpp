// SPDX-License-Identifier: MIT
// Tableau, fresh-step and Hermite interpolants, written with differentiable ops so saved
// states carry gradients like stepped ones.
#include "flowtape/solvers/dense_output.hpp"

#include <array>
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

void complete_step_record(const Tableau& tab, const TupleField& f, StepRecord& step, long& nfe) {
  if (!needs_end_derivative(tab)) return;
  if (step.f1.empty()) {
    step.f1 = f(step.tb, step.y1);
    ++nfe;
  }
  if (tab.dense_stages > 0 && step.k.size() == static_cast<std::size_t>(tab.stages))
    add_dense_stages(tab, f, step.ta, step.y0, step.tb - step.ta, step.f1, step.k, nfe);
}

TensorTuple interpolate(const Tableau& tab, const StepRecord& step, double theta,
                        const TupleField& f, long& nfe) {
  const double h = step.tb - step.ta;
  if (tab.dense_degree > 0) {
    // y0 + h sum_i P_i(theta) k_i, with P_i(theta) = sum_j dense[i][j] theta^(j + 1).
    std::array<double, kMaxStages> p{};
    for (int i = 0; i < tab.stages + tab.dense_stages; ++i) {
      const auto& d = tab.dense[static_cast<std::size_t>(i)];
      double pi = 0;
      for (int j = tab.dense_degree - 1; j >= 0; --j)
        pi = pi * theta + d[static_cast<std::size_t>(j)];  // Horner's rule
      p[static_cast<std::size_t>(i)] = pi * theta;
    }
    return combine(step.y0, step.k, p.data(), tab.stages + tab.dense_stages, h);
  }
  if (tab.dense_by_restep) return rk_step(tab, f, step.ta, step.y0, step.f0, theta * h, nfe).y1;
  // Cubic Hermite basis on [0, 1].
  const double t2 = theta * theta, t3 = t2 * theta;
  const double h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + theta;
  const double h01 = -2 * t3 + 3 * t2, h11 = t3 - t2;
  TensorTuple y(step.y0.size());
  for (std::size_t c = 0; c < y.size(); ++c)
    y[c] = step.y0[c] * h00 + step.y1[c] * h01 + step.f0[c] * (h * h10) + step.f1[c] * (h * h11);
  return y;
}

DenseOutput::DenseOutput(const Tableau& tab, const TupleField& f, double t0, double t1)
    : tab_(tab), f_(tab.dense_by_restep ? f : TupleField()), t0_(t0), t1_(t1) {}

void DenseOutput::add(StepRecord step) {
  // Only a tableau's interpolant reads the stages; the Hermite and re-step ones need the ends
  // (and f0), so the stages (4 to 13 state-sized tensors a step) are not kept for them.
  if (tab_.dense_degree == 0) step.k.clear();
  steps_.push_back(std::move(step));
}

TensorTuple DenseOutput::at(double t) const {
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
