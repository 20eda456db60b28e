// SPDX-License-Identifier: MIT
// Gradients of a loss on an ODE solution, two ways:
//
//   direct   backpropagation through the recorded solve (discretise-then-optimise): the exact
//            gradient of the computed solution; memory grows with the number of steps.
//   adjoint  the continuous adjoint (optimise-then-discretise, Pontryagin; Chen et al.'s neural
//            ODEs): solve backward in time
//                dy/dt = f(t, y),   da/dt = -a^T df/dy,   dg/dt = -a^T df/dtheta,
//            from a(t1) = dL/dy1, g(t1) = 0, so that a(t0) = dL/dy0 and g(t0) = dL/dtheta.
//            The forward solve records nothing and keeps `checkpoints` states at equally spaced
//            times; each backward segment restarts y from its checkpoint instead of trusting
//            the backward solve of y across the whole interval. Memory is flat in the number of
//            steps; the gradient is that of the exact flow, so it differs from the direct one
//            by about the solver tolerance.
//
// f reads the parameters from its closure (a model's weights, say); `params` names the tensors
// to differentiate by. Each backward evaluation records f on a tape of its own to get the
// vector-Jacobian products, so f must be differentiable in y and in the parameters.
#pragma once

#include <functional>
#include <vector>

#include "flowtape/runtime/tensor.hpp"
#include "flowtape/solvers/options.hpp"

namespace flowtape::solvers {

enum class GradientMethod { direct, adjoint };

struct AdjointOptions {
  // The forward solve: method, tolerances, n_steps for a fixed grid (dt0-sized fixed grids are
  // refused: give n_steps). save_at and dense must be left empty / off.
  IntegrateOptions solver = {};
  // The backward (adjoint) solve's tolerances; 0: the forward solve's.
  double adjoint_rtol = 0, adjoint_atol = 0;
  // Forward states kept for the backward pass (equally spaced in time, t1 included; on a fixed
  // grid, on its nodes). More cost memory, fewer let the backward solve of y drift further.
  int checkpoints = 8;
};

struct SolveGradients {
  Tensor y1;                        // the solution at t1
  Tensor loss;                      // loss(y1), a scalar
  Tensor grad_y0;                   // dL/dy0
  std::vector<Tensor> grad_params;  // dL/dparams[i], in order
  Stats forward, backward;          // the backward solve's: zero for the direct method
};

// L = loss(y(t1)) for dy/dt = f(t, y), y(t0) = y0, with its gradients by the chosen method.
// The loss may also use the parameters directly (a weight penalty): both methods include
// that part of dL/dparams.
// It keeps tapes of its own, so it must be called while no Tape is active (std::logic_error
// otherwise; tapes do not nest); use the gradients it returns in your own update. Throws
// std::invalid_argument for bad arguments (an empty field or loss, a non-scalar loss,
// undefined parameters) and SolverError as integrate().
SolveGradients solve_value_and_grad(const VectorField& f, const std::vector<Tensor>& params,
                                    const Tensor& y0, double t0, double t1,
                                    const std::function<Tensor(const Tensor& y1)>& loss,
                                    GradientMethod method, const AdjointOptions& options = {});

}  // namespace flowtape::solvers
