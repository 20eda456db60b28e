// SPDX-License-Identifier: MIT
// Euler-Maruyama for the Ito SDE dx = f(t, x) dt + g(t, x) dW with diagonal noise: g returns a
// tensor broadcastable to x (a scalar, a per-feature scale, or one value per element). Strong
// order 1/2, weak order 1. Seeded by the caller's Generator, so a run is reproducible; inside
// an active Tape the solve is recorded like integrate()'s.
#pragma once

#include <vector>

#include "flowtape/runtime/random.hpp"
#include "flowtape/runtime/tensor.hpp"
#include "flowtape/solvers/options.hpp"

namespace flowtape::solvers {

// n_steps equal steps from t0 to t1 (t1 < t0 allowed: the increments have variance |h|). The
// save times (monotone, within [t0, t1]; empty: only t1) are added to the grid, splitting the
// step they fall in, since a Brownian path has no dense output to interpolate.
// stats.nfe counts evaluations of f (g is evaluated as often).
Solution euler_maruyama(const VectorField& f, const VectorField& g, const Tensor& y0, double t0,
                        double t1, int n_steps, Generator& gen,
                        const std::vector<double>& save_at = {});

}  // namespace flowtape::solvers
