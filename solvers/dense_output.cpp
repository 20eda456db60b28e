// SPDX-License-Identifier: MIT
// Tableau and Hermite interpolants, written with differentiable ops so saved states carry
// gradients like stepped ones.
#include "flowtape/solvers/dense_output.hpp"

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

}  // namespace flowtape::solvers
