// SPDX-License-Identifier: MIT
// Tableau and Hermite interpolants, written with differentiable ops so saved states carry
// gradients like stepped ones.
#include "flowtape/solvers/dense_output.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/ops.hpp"

namespace flowtape::solvers {

bool needs_end_derivative(const Tableau& tab) {
  return tab.dense_degree == 0;
}

Tensor interpolate(const Tableau& tab, const Tensor& y0, const Tensor& y1, const Tensor& f0,
                   const Tensor& f1, const std::vector<Tensor>& k, double h, double theta) {
  if (tab.dense_degree > 0) {
    Tensor acc;
    for (int i = 0; i < tab.stages; ++i) {
      // P_i(theta) by Horner's rule on sum_j dense[i][j] theta^(j + 1).
      const auto& d = tab.dense[static_cast<std::size_t>(i)];
      double p = 0;
      for (int j = tab.dense_degree - 1; j >= 0; --j)
        p = p * theta + d[static_cast<std::size_t>(j)];
      p *= theta;
      if (p == 0.0) continue;
      const Tensor term = k[static_cast<std::size_t>(i)] * (h * p);
      acc = acc.defined() ? acc + term : term;
    }
    return acc.defined() ? y0 + acc : y0;
  }
  // Cubic Hermite basis on [0, 1].
  const double t2 = theta * theta, t3 = t2 * theta;
  const double h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + theta;
  const double h01 = -2 * t3 + 3 * t2, h11 = t3 - t2;
  return y0 * h00 + y1 * h01 + f0 * (h * h10) + f1 * (h * h11);
}

DenseOutput::DenseOutput(const Tableau& tab, double t0, double t1) : tab_(tab), t0_(t0), t1_(t1) {}

void DenseOutput::add(double ta, double tb, Tensor y0, Tensor y1, Tensor f0,
                      std::vector<Tensor> k) {
  steps_.push_back({ta, tb, std::move(y0), std::move(y1), std::move(f0), Tensor(), std::move(k)});
}

void DenseOutput::set_end_derivative(Tensor f1) {
  if (!steps_.empty()) steps_.back().f1 = std::move(f1);
}

bool DenseOutput::needs_end_derivative() const {
  return !steps_.empty() && !steps_.back().f1.defined() && solvers::needs_end_derivative(tab_);
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
  const Step& s = steps_[lo];
  if (t == s.tb) return s.y1;
  if (t == s.ta) return s.y0;
  return interpolate(tab_, s.y0, s.y1, s.f0, s.f1, s.k, s.tb - s.ta, (t - s.ta) / (s.tb - s.ta));
}

}  // namespace flowtape::solvers
