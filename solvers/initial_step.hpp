// SPDX-License-Identifier: MIT
// Hairer's starting step size (Hairer, Norsett & Wanner, Solving ODEs I, II.4, "Automatic
// step size control", starting step size algorithm): two norms of the state and derivative, one
// explicit Euler trial step to estimate the second derivative, and h chosen so that the
// leading error term of a method of `order` is about the tolerance. Costs one evaluation of f.
#pragma once

#include "flowtape/runtime/tensor.hpp"
#include "flowtape/solvers/options.hpp"

namespace flowtape::solvers {

// The magnitude of the first step from (t0, y0) with f0 = f(t0, y0), towards t1 (dir = +-1).
double initial_step(const TupleField& f, double t0, const TensorTuple& y0, const TensorTuple& f0,
                    int order, double dir, double span, const IntegrateOptions& opts, long& nfe);

}  // namespace flowtape::solvers
