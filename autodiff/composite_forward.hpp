// The forward of a fused CPU op on a device that has no kernel for it: the same math composed
// of primitive ops (each of which has one), run unrecorded and without tangents (apply()
// records the op itself and computes its tangent by the op's JVP rule), written into `out`
// by taking the composed result's buffer. Used by the ops fused for CPU speed (linear,
// silu_grad, silu_grad2) when their inputs are on the GPU.
#pragma once

#include "autodiff/tape.hpp"
#include "autodiff/tensor.hpp"

namespace flowtape::detail {

template <class Compose>
bool composite_forward_on_cuda(Tensor& out, Compose compose) {
  if (out.device() != Device::cuda) return false;
  NoGrad no_grad;
  TangentsOff no_tangents;
  const Tensor r = compose();
  out.impl()->storage = r.impl()->storage;
  return true;
}

}  // namespace flowtape::detail
