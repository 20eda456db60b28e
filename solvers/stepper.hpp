// SPDX-License-Identifier: MIT
// One explicit Runge-Kutta step for any tableau. Every state update is a differentiable Tensor
// op, so inside an active Tape the step is recorded and a loss on the solution can be
// differentiated through it (discretise-then-optimise).
#pragma once

#include <vector>

#include "flowtape/runtime/tensor.hpp"
#include "flowtape/solvers/options.hpp"
#include "flowtape/solvers/tableau.hpp"

namespace flowtape::solvers {

struct RKStep {
  Tensor y1;              // the solution at t + h (weights b)
  std::vector<Tensor> k;  // the stage derivatives k_1 .. k_s
  Tensor f1;              // f(t + h, y1): the last stage of an FSAL tableau, else undefined
};

// Steps from (t, y) by h (signed), given k1 = f(t, y). Adds the evaluations of f to nfe.
RKStep rk_step(const Tableau& tab, const VectorField& f, double t, const Tensor& y,
               const Tensor& k1, double h, long& nfe);

// Appends the tableau's dense stages to the step's k: f1 = f(t + h, y1), then the others.
void add_dense_stages(const Tableau& tab, const VectorField& f, double t, const Tensor& y, double h,
                      const Tensor& f1, std::vector<Tensor>& k, long& nfe);

}  // namespace flowtape::solvers
