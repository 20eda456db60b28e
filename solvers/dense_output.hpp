// SPDX-License-Identifier: MIT
// Dense output: the state anywhere inside an accepted step without stepping there. Methods
// whose tableau carries an interpolant (dopri5) use it; the others use the cubic Hermite
// polynomial through y and f at both ends (third order, which needs f(t1, y1): for FSAL
// methods that is the last stage; for the others it is the next step's first stage, so it
// costs no extra evaluation except after the final step).
#pragma once

#include <vector>

#include "flowtape/runtime/tensor.hpp"
#include "flowtape/solvers/tableau.hpp"

namespace flowtape::solvers {

// Whether interpolating on this tableau needs f(t + h, y1).
bool needs_end_derivative(const Tableau& tab);

// y(t + theta h), theta in [0, 1], on the step (y0, f0) -> (y1, f1) of size h with stages k.
Tensor interpolate(const Tableau& tab, const Tensor& y0, const Tensor& y1, const Tensor& f0,
                   const Tensor& f1, const std::vector<Tensor>& k, double h, double theta);

}  // namespace flowtape::solvers
