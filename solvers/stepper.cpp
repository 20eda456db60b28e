// SPDX-License-Identifier: MIT
// The generic explicit Runge-Kutta step.
#include "flowtape/solvers/stepper.hpp"

#include "flowtape/autodiff/ops.hpp"

namespace flowtape::solvers {

TensorTuple combine(const TensorTuple& base, const std::vector<TensorTuple>& k, const double* w,
                    int n, double h) {
  TensorTuple out(base.size());
  for (std::size_t c = 0; c < base.size(); ++c) {
    Tensor acc;
    for (int j = 0; j < n; ++j) {
      if (w[j] == 0.0) continue;
      const Tensor term = k[static_cast<std::size_t>(j)][c] * (h * w[j]);
      acc = acc.defined() ? acc + term : term;
    }
    out[c] = acc.defined() ? base[c] + acc : base[c];
  }
  return out;
}

RKStep rk_step(const Tableau& tab, const TupleField& f, double t, const TensorTuple& y,
               const TensorTuple& k1, double h, long& nfe) {
  RKStep out;
  out.k.reserve(static_cast<std::size_t>(tab.stages));
  out.k.push_back(k1);
  TensorTuple y_stage;
  for (int i = 1; i < tab.stages; ++i) {
    const auto ii = static_cast<std::size_t>(i);
    y_stage = combine(y, out.k, tab.a[ii].data(), i, h);
    out.k.push_back(f(t + tab.c[ii] * h, y_stage));
    ++nfe;
  }
  if (tab.fsal) {
    // The last stage was evaluated at y1 itself (its row of a is b).
    out.y1 = y_stage;
    out.f1 = out.k.back();
  } else {
    out.y1 = combine(y, out.k, tab.b.data(), tab.stages, h);
  }
  return out;
}

void add_dense_stages(const Tableau& tab, const TupleField& f, double t, const TensorTuple& y,
                      double h, const TensorTuple& f1, std::vector<TensorTuple>& k, long& nfe) {
  k.push_back(f1);
  for (int i = tab.stages + 1; i < tab.stages + tab.dense_stages; ++i) {
    const auto ii = static_cast<std::size_t>(i);
    k.push_back(f(t + tab.c[ii] * h, combine(y, k, tab.a[ii].data(), i, h)));
    ++nfe;
  }
}

}  // namespace flowtape::solvers
