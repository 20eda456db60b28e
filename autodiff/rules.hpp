// SPDX-License-Identifier: MIT
// Small helpers shared by the op definitions in ops_*.cpp (not part of the public API).
#pragma once

#include <stdexcept>
#include <string>

#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/ops.hpp"

namespace flowtape::rules {

// Sum of two tangents where an undefined tensor means zero.
inline Tensor plus(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return add(a, b);
}

// The unary ops' JVP and VJP are both multiplication by the derivative D(saved), written once.
template <Tensor (*D)(const Saved&)>
TensorList unary_jvp(const Saved& s, Inputs t) {
  return mul(D(s), t[0]);
}
template <Tensor (*D)(const Saved&)>
void unary_vjp(const Saved& s, Inputs g, Grads& out) {
  out[0] = mul(g[0], D(s));
}

// The JVP of an op linear in its inputs (reshape, slice, sum, ...) is the op itself, with its
// attributes, applied to the tangents (an undefined one standing for zeros).
inline TensorList linear_jvp(const Saved& s, Inputs t) {
  bool any = false;
  TensorList tangents(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) {
    any |= t[i].defined();
    tangents[i] = t[i].defined() ? t[i] : zeros_like(s.in[i]);
  }
  if (!any) return TensorList(static_cast<std::size_t>(s.op.outputs));
  return apply_all(s.op, std::move(tangents), s.attrs);
}

inline Shape same_shape(Inputs in, const Attrs&) { return in[0].shape(); }

// Dtype rules (OpDef::dtype). Inputs [from, to) must share one dtype, which is returned.
inline DType shared_dtype(Inputs in, std::size_t from, std::size_t to, const char* name) {
  for (std::size_t i = from; i < to; ++i)
    if (in[i].dtype() != in[from].dtype())
      throw std::invalid_argument(std::string(name) + ": dtype mismatch, " + in[from].str() +
                                  " and " + in[i].str() + " (convert with to_dtype)");
  return in[from].dtype();
}
inline DType floating(Inputs in, std::size_t from, std::size_t to, const char* name) {
  const DType t = shared_dtype(in, from, to, name);
  if (!is_floating(t))
    throw std::invalid_argument(std::string(name) + ": needs floating-point tensors, got " +
                                in[from].str() + " (convert with to_dtype)");
  return t;
}
// Ops that move elements without arithmetic (reshape, slice, ...) take every dtype, but for
// broadcast_to, whose copy runs on the elementwise kernels (floating-point only).
inline DType any_dtype(Inputs in, const char* name) {
  return shared_dtype(in, 0, in.size(), name);
}
// Comparisons: floating-point operands, a boolean result.
inline DType boolean_result(Inputs in, const char* name) {
  floating(in, 0, in.size(), name);
  return DType::boolean;
}
// Input 1 is an i64 index into input 0, floating-point data (gather, scatter_add).
inline DType data_and_index(Inputs in, const char* name) {
  if (in[1].dtype() != DType::i64)
    throw std::invalid_argument(std::string(name) + ": the index must be i64, got " + in[1].str());
  return floating(in, 0, 1, name);
}

// The fused primitives that exist only on the CPU (ops_silu.cpp, ops_layer.cpp) call
// kernels/cpu directly; `chooser`, the function whose rewrite picks them, does so only there,
// so only a caller of the primitive itself could send a device tensor.
inline void require_cpu(const char* name, const char* chooser, const Tensor& x) {
  if (x.device() != Device::cpu)
    throw std::logic_error(std::string(name) + ": a CPU primitive (" + chooser +
                           " uses it only there)");
}

// The affine layer z = x w^T + b, shared by linear and linear_silu: the shape rule (x [m, k],
// w [n, k], b [n]; errors name the op `name`) and the tangent dz = dx w^T + x dw^T + db of
// inputs (x, w, b).
inline Shape affine_shape(Inputs in, const char* name) {
  const Shape &x = in[0].shape(), &w = in[1].shape(), &b = in[2].shape();
  if (x.rank() != 2 || w.rank() != 2 || b.rank() != 1 || x[1] != w[1] || b[0] != w[0])
    throw std::invalid_argument(std::string(name) + ": expected x [m, k], w [n, k], b [n], got " +
                                x.str() + ", " + w.str() + ", " + b.str());
  return Shape{x[0], w[0]};
}
inline Tensor affine_tangent(Inputs in, Inputs t) {
  const Tensor dx = t[0].defined() ? matmul(t[0], in[1], false, true) : Tensor();
  const Tensor dw = t[1].defined() ? matmul(in[0], t[1], false, true) : Tensor();
  return plus(plus(dx, dw), t[2]);
}

}  // namespace flowtape::rules
