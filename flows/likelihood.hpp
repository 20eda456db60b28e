// SPDX-License-Identifier: MIT
// Log-likelihood of data under a flow by the instantaneous change of variables: integrate the
// augmented ODE d/dt (x, l) = (v(x, t), div v(x, t)) backward from t1 = 1 (the data) to t0 = 0
// (the source), so that l(0) = -int_0^1 div v dt and
//     log p_1(x1) = log N(x0; 0, I) + l(0).
// The divergence is exact (d JVPs) or Hutchinson's estimate with probes drawn once and held for
// the whole solve (as FFJORD and the FDM paper's code do), which keeps the ODE smooth.
// The source density is N(0, I) unless another log p0 is given. As an evaluation it records
// nothing; with `differentiable` a recording Tape records the whole solve, so the
// log-likelihood can be trained on (maximum likelihood, FFJORD style).
#pragma once

#include <cstdint>
#include <functional>

#include "flowtape/flows/divergence.hpp"
#include "flowtape/flows/velocity.hpp"
#include "flowtape/solvers/solvers.hpp"

namespace flowtape::flows {

struct LikelihoodOptions {
  solvers::IntegrateOptions solver;  // dopri5, rtol 1e-5, atol 1e-6 by default
  bool exact_divergence = true;
  int probes = 1;
  ProbeKind probe = ProbeKind::gaussian;
  // For the Hutchinson probes. Every call with the same seed draws the same probes: give each
  // chunk of a dataset scored in chunks its own seed.
  std::uint64_t seed = 0;
  double t0 = 0.0, t1 = 1.0;
  // log p0(x0) per row ([B] from [B, d]); empty: the standard normal.
  std::function<Tensor(const Tensor&)> source_log_density = {};
  // Record the solve on the active Tape (gradients of log_prob reach the field's parameters
  // through every step: discretise-then-optimise). Off: evaluated under NoGrad.
  bool differentiable = false;
};

struct LikelihoodResult {
  Tensor log_prob;  // [B] log p_1(x1) in nats
  Tensor x0;        // [B, d] the source points the data map back to
  solvers::Stats stats;
};

// Without options.differentiable it records on no tape (NoGrad): it is an evaluation.
LikelihoodResult log_likelihood(const VelocityField& v, const Tensor& x1,
                                const LikelihoodOptions& options = {});

// log N(x; 0, I) per row.
Tensor standard_normal_log_density(const Tensor& x);

// Mean negative log-likelihood in nats, and the same in bits per dimension.
double mean_nll(const LikelihoodResult& r);
double bits_per_dim(double nll_nats, std::int64_t dim);

}  // namespace flowtape::flows
