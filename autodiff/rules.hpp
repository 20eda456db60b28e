// Small helpers shared by the op definitions in ops_*.cpp (not part of the public API).
#pragma once

#include "autodiff/op.hpp"
#include "autodiff/ops.hpp"

namespace flowtape::rules {

// Sum of two tangents where an undefined tensor means zero.
inline Tensor plus(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return add(a, b);
}

// The unary ops' JVP and VJP are both multiplication by the derivative D(saved), written once.
template <Tensor (*D)(const Saved&)>
Tensor unary_jvp(const Saved& s, Inputs t) {
  return mul(D(s), t[0]);
}
template <Tensor (*D)(const Saved&)>
void unary_vjp(const Saved& s, const Tensor& g, Grads& out) {
  out[0] = mul(g, D(s));
}

inline Shape same_shape(Inputs in, const Attrs&) { return in[0].shape(); }

}  // namespace flowtape::rules
