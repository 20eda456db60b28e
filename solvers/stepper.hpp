// SPDX-License-Identifier: MIT
// One explicit Runge-Kutta step for any tableau, on a state of one or several tensors. Every
// state update is a differentiable Tensor op, so inside an active Tape the step is recorded and
// a loss on the solution can be differentiated through it (discretise-then-optimise).
#pragma once

#include <vector>

#include "flowtape/runtime/tensor.hpp"
#include "flowtape/solvers/options.hpp"
#include "flowtape/solvers/tableau.hpp"

namespace flowtape::solvers {

struct RKStep {
  TensorTuple y1;              // the solution at t + h (weights b)
  std::vector<TensorTuple> k;  // the stage derivatives k_1 .. k_s
  TensorTuple f1;              // f(t + h, y1): the last stage of an FSAL tableau, else empty
};

// base + h sum_j w[j] k[j] over the first n stages, component by component, skipping zero
// weights (many tableau entries are zero, and each skipped term saves two ops).
TensorTuple combine(const TensorTuple& base, const std::vector<TensorTuple>& k, const double* w,
                    int n, double h);

// Steps from (t, y) by h (signed), given k1 = f(t, y). Adds the evaluations of f to nfe.
RKStep rk_step(const Tableau& tab, const TupleField& f, double t, const TensorTuple& y,
               const TensorTuple& k1, double h, long& nfe);

// Appends the tableau's dense stages to the step's k: f1 = f(t + h, y1), then the others.
void add_dense_stages(const Tableau& tab, const TupleField& f, double t, const TensorTuple& y,
                      double h, const TensorTuple& f1, std::vector<TensorTuple>& k, long& nfe);

}  // namespace flowtape::solvers
