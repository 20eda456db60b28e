// SPDX-License-Identifier: MIT
// The closed-form optimal velocity of flow matching for a finite dataset {x^(i)} under the
// rectified path (Bertrand et al., "On the closed-form of flow matching", Prop. 1;
// docs/objectives.md), with Lipman's sigma_min as the repository implements it:
//
//   sigma_t = 1 - (1 - sigma_min) t
//   w(x, t) = softmax_i( -||x - t x^(i)||^2 / (2 sigma_t^2) )
//   u*(x, t) = ( sum_i w_i x^(i) - (1 - sigma_min) x ) / sigma_t
//
// The weights are the posterior of the training point given x_t = x. The logits drop the
// ||x||^2 term (it cancels in the softmax) and the softmax is max-shifted, so nothing
// overflows. Near t = 1 the field blows up off the data (that is the point: its flow lands on
// training points); sigma_t is floored at `sigma_floor` so t = 1 itself gives a finite field
// pointing at the nearest training point instead of a division by zero.
#pragma once

#include "flowtape/flows/velocity.hpp"

namespace flowtape::flows {

// x: [B, d]; t: [B, 1], [B] or a scalar; data: [n, d]. Returns [B, d]. Differentiable in x.
// Memory is B * n for the weights.
Tensor empirical_velocity(const Tensor& x, const Tensor& t, const Tensor& data,
                          double sigma_min = 0.0, double sigma_floor = 1e-4);

// The same as a VelocityField over a fixed dataset.
VelocityField empirical_velocity_field(Tensor data, double sigma_min = 0.0,
                                       double sigma_floor = 1e-4);

// The posterior weights w(x, t) over the data: [B, n], rows summing to 1.
// Their logarithms, finite where the weights underflow to 0 (a loss that reweights the
// posterior, like the per-point entropic tilt, needs them).
Tensor empirical_log_weights(const Tensor& x, const Tensor& t, const Tensor& data,
                             double sigma_min = 0.0, double sigma_floor = 1e-4);
Tensor empirical_weights(const Tensor& x, const Tensor& t, const Tensor& data,
                         double sigma_min = 0.0, double sigma_floor = 1e-4);

}  // namespace flowtape::flows
