// Small helpers shared by the op definitions in ops_*.cpp (not part of the public API).
#pragma once

#include "autodiff/op.hpp"
#include "autodiff/ops.hpp"
#include "autodiff/tape.hpp"

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

// Whether what a VJP rule computes now leaves no trace: nothing is recorded (no create_graph,
// no grad inside a recording tape) and no tangent flows through it (no forward over reverse).
// Only then may a rule call a kernel directly, or read a residual as a constant, instead of
// composing differentiable ops (linear_silu, silu_grad's fused VJP).
inline bool untraced(const Saved& s, const Tensor& g) {
  if (recording()) return false;
  if (!detail::tangents_enabled()) return true;
  bool tangent = g.has_tangent();
  for (const Tensor& x : s.in) tangent |= x.has_tangent();
  return !tangent;
}

}  // namespace flowtape::rules
