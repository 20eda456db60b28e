// SPDX-License-Identifier: MIT
// Sampling: push source points x0 ~ N(0, I) through a velocity field with any solver of
// solvers/, from t0 = 0 to t1 = 1 by default, optionally saving the trajectory.
#pragma once

#include <vector>

#include "flowtape/flows/velocity.hpp"
#include "flowtape/solvers/solvers.hpp"

namespace flowtape::flows {

// The velocity as the solver's dy/dt = f(t, y).
solvers::VectorField as_vector_field(VelocityField v);

struct SampleOptions {
  solvers::IntegrateOptions solver;  // dopri5, rtol 1e-5, atol 1e-6 by default
  double t0 = 0.0, t1 = 1.0;
  int trajectory_points = 0;  // > 1: save that many equally spaced times from t0 to t1
};

struct SampleResult {
  Tensor x;                        // [B, d] at t1
  std::vector<double> ts;          // the trajectory's times (empty without one)
  std::vector<Tensor> trajectory;  // the states at ts
  solvers::Stats stats;
};

SampleResult sample(const VelocityField& v, const Tensor& x0, const SampleOptions& options = {});

}  // namespace flowtape::flows
