// SPDX-License-Identifier: MIT
// The one interface between flows/ and whatever computes a velocity (an nn/ model, a closed
// form, a test field): a callable v(x, t) with x of shape [B, d] and t of shape [B, 1], that
// returns [B, d]. flows/ never depends on nn/.
#pragma once

#include <functional>

#include "flowtape/autodiff/autodiff.hpp"

namespace flowtape::flows {

using VelocityField = std::function<Tensor(const Tensor& x, const Tensor& t)>;

// t as a [B, 1] column of the value `t` in x's dtype.
inline Tensor time_column(double t, const Tensor& x) {
  return full(Shape{x.shape()[0], 1}, t, x.dtype(), x.device());
}

}  // namespace flowtape::flows
