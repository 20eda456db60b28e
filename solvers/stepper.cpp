// SPDX-License-Identifier: MIT
// The generic explicit Runge-Kutta step.
#include "flowtape/solvers/stepper.hpp"

#include "flowtape/autodiff/ops.hpp"

namespace flowtape::solvers {
namespace {

// base + h * sum_j w[j] k[j] over the first n stages, skipping zero weights (many tableau
// entries are zero, and each skipped term saves two ops).
Tensor combine(const Tensor& base, const std::vector<Tensor>& k, const double* w, int n, double h) {
  Tensor acc;
  for (int j = 0; j < n; ++j) {
    if (w[j] == 0.0) continue;
    const Tensor term = k[static_cast<std::size_t>(j)] * (h * w[j]);
    acc = acc.defined() ? acc + term : term;
  }
  return acc.defined() ? base + acc : base;
}

}  // namespace

RKStep rk_step(const Tableau& tab, const VectorField& f, double t, const Tensor& y,
               const Tensor& k1, double h, long& nfe) {
  RKStep out;
  out.k.reserve(static_cast<std::size_t>(tab.stages));
  out.k.push_back(k1);
  Tensor y_stage;
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

void add_dense_stages(const Tableau& tab, const VectorField& f, double t, const Tensor& y, double h,
                      const Tensor& f1, std::vector<Tensor>& k, long& nfe) {
  k.push_back(f1);
  for (int i = tab.stages + 1; i < tab.stages + tab.dense_stages; ++i) {
    const auto ii = static_cast<std::size_t>(i);
    k.push_back(f(t + tab.c[ii] * h, combine(y, k, tab.a[ii].data(), i, h)));
    ++nfe;
  }
}

}  // namespace flowtape::solvers
