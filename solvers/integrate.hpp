// SPDX-License-Identifier: MIT
// integrate(): solve dy/dt = f(t, y) from t0 to t1 (t1 < t0 integrates backward in time) with
// any method of method.hpp or any tableau. Adaptive methods choose steps with the PID (by
// default PI) controller or yours and save at requested times by dense output; fixed-step
// methods take dt0-sized or n_steps equal steps. The state is a Tensor of any shape and dtype,
// or a tuple of them (TensorTuple); inside an active Tape the solve is recorded and
// differentiable (discretise-then-optimise, no gradient through step sizes). For gradients
// with memory flat in the number of steps, see adjoint.hpp.
//
// Bad options throw std::invalid_argument; a solve that cannot finish throws SolverError.
#pragma once

#include "flowtape/runtime/tensor.hpp"
#include "flowtape/solvers/options.hpp"
#include "flowtape/solvers/tableau.hpp"

namespace flowtape::solvers {

Solution integrate(const VectorField& f, const Tensor& y0, double t0, double t1,
                   const IntegrateOptions& opts = {});

// The same with any explicit Runge-Kutta tableau, yours included (opts.method is ignored). It
// is checked first (validate_tableau: its order conditions, its structure); adaptive when it
// has embedded weights (error_order > 0), with its own dense output or cubic Hermite.
Solution integrate(const VectorField& f, const Tensor& y0, double t0, double t1,
                   const Tableau& tableau, const IntegrateOptions& opts = {});

// The same on a state of several tensors: f returns one derivative per component, and the
// error norm is taken per component, the worst counting (options.hpp).
TupleSolution integrate(const TupleField& f, const TensorTuple& y0, double t0, double t1,
                        const IntegrateOptions& opts = {});
TupleSolution integrate(const TupleField& f, const TensorTuple& y0, double t0, double t1,
                        const Tableau& tableau, const IntegrateOptions& opts = {});

}  // namespace flowtape::solvers
