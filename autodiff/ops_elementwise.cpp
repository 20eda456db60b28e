// SPDX-License-Identifier: MIT
// The op table, part 1: elementwise primitives. Each OpDef below is the single definition of
// its op: shape rule, forward kernel, JVP rule, VJP rule (see op.hpp).
#include <array>
#include <functional>
#include <initializer_list>
#include <stdexcept>

#include "flowtape/autodiff/elementwise_forward.hpp"
#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/op_list.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/rules.hpp"
#include "flowtape/runtime/backend.hpp"

namespace flowtape {
namespace {

using rules::nary_forward;
using rules::plus;
using rules::same_shape;
using rules::unary_forward;
using rules::unary_jvp;
using rules::unary_vjp;

#define FLOWTAPE_BINARY_SHAPE(name) \
  [](Inputs in, const Attrs&) { return broadcast_shapes(in[0].shape(), in[1].shape(), name); }

// --- binary arithmetic ------------------------------------------------------------------------

}  // namespace

const OpDef op_add{
    "add", FLOWTAPE_BINARY_SHAPE("add"), nary_forward<NaryOp::add>,
    [](const Saved&, Inputs t) -> TensorList { return plus(t[0], t[1]); },
    [](const Saved& s, Inputs g, Grads& out) {
      if (out.wants(0)) out[0] = sum_to(g[0], s.in[0].shape());
      if (out.wants(1)) out[1] = sum_to(g[0], s.in[1].shape());
    }};

const OpDef op_sub{
    "sub", FLOWTAPE_BINARY_SHAPE("sub"), nary_forward<NaryOp::sub>,
    [](const Saved&, Inputs t) -> TensorList {
      return t[1].defined() ? plus(t[0], neg(t[1])) : t[0];
    },
    [](const Saved& s, Inputs g, Grads& out) {
      if (out.wants(0)) out[0] = sum_to(g[0], s.in[0].shape());
      if (out.wants(1)) out[1] = neg(sum_to(g[0], s.in[1].shape()));
    }};

const OpDef op_mul{
    "mul", FLOWTAPE_BINARY_SHAPE("mul"), nary_forward<NaryOp::mul>,
    [](const Saved& s, Inputs t) -> TensorList {
      return plus(t[0].defined() ? mul(t[0], s.in[1]) : Tensor(),
                  t[1].defined() ? mul(s.in[0], t[1]) : Tensor());
    },
    [](const Saved& s, Inputs g, Grads& out) {
      if (out.wants(0)) out[0] = sum_to(mul(g[0], s.in[1]), s.in[0].shape());
      if (out.wants(1)) out[1] = sum_to(mul(g[0], s.in[0]), s.in[1].shape());
    }};

// y = a / b: dy = (da - y db) / b.
const OpDef op_div{
    "div", FLOWTAPE_BINARY_SHAPE("div"), nary_forward<NaryOp::div>,
    [](const Saved& s, Inputs t) -> TensorList {
      return plus(t[0].defined() ? div(t[0], s.in[1]) : Tensor(),
                  t[1].defined() ? neg(div(mul(s.out[0], t[1]), s.in[1])) : Tensor());
    },
    [](const Saved& s, Inputs g, Grads& out) {
      if (out.wants(0)) out[0] = sum_to(div(g[0], s.in[1]), s.in[0].shape());
      if (out.wants(1))
        out[1] = sum_to(neg(div(mul(g[0], s.out[0]), s.in[1])), s.in[1].shape());
    }};

namespace {

// --- selection and piecewise-constant ops -----------------------------------------------------

// The condition is boolean, or 0 / 1 in the operands' dtype; it has no derivative.
DType where_dtype(Inputs in, const char* name) {
  if (in[0].dtype() != DType::boolean && in[0].dtype() != in[1].dtype())
    throw std::invalid_argument(std::string(name) + ": the condition " + in[0].str() +
                                " must be boolean or of the operands' dtype");
  return rules::floating(in, 1, 3, name);
}

void where_forward(Inputs in, const Attrs& a, Outputs out) {
  if (in[0].dtype() == out[0].dtype()) return nary_forward<NaryOp::where>(in, a, out);
  const std::array<Tensor, 3> args{to_dtype(in[0], out[0].dtype()), in[1], in[2]};
  backend_of(out[0]).nary(NaryOp::where, args, out[0]);
}

// A comparison's mask, computed in the operands' dtype as 0 / 1, then stored as booleans.
template <NaryOp C>
void comparison_forward(Inputs in, const Attrs&, Outputs out) {
  Tensor mask = empty(out[0].shape(), in[0].dtype(), in[0].device());
  Backend& backend = backend_of(out[0]);
  backend.nary(C, in, mask);
  backend.cast(mask, out[0]);
}

}  // namespace

const OpDef op_where{
    .name = "where",
    .shape =
        [](Inputs in, const Attrs&) {
          return broadcast_shapes(in[0].shape(),
                                  broadcast_shapes(in[1].shape(), in[2].shape(), "where"), "where");
        },
    .forward = where_forward,
    .jvp = [](const Saved& s, Inputs t) -> TensorList {
      const Tensor zero = scalar_like(s.out[0], 0.0);
      return where(s.in[0], t[1].defined() ? t[1] : zero, t[2].defined() ? t[2] : zero);
    },
    .vjp =
        [](const Saved& s, Inputs g, Grads& out) {
          const Tensor zero = scalar_like(g[0], 0.0);
          if (out.wants(1)) out[1] = sum_to(where(s.in[0], g[0], zero), s.in[1].shape());
          if (out.wants(2)) out[2] = sum_to(where(s.in[0], zero, g[0]), s.in[2].shape());
        },
    .dtype = where_dtype};

const OpDef op_greater{.name = "greater",
                       .shape = FLOWTAPE_BINARY_SHAPE("greater"),
                       .forward = comparison_forward<NaryOp::greater>,
                       .dtype = rules::boolean_result};

const OpDef op_less{.name = "less",
                    .shape = FLOWTAPE_BINARY_SHAPE("less"),
                    .forward = comparison_forward<NaryOp::less>,
                    .dtype = rules::boolean_result};

const OpDef op_equal{.name = "equal",
                     .shape = FLOWTAPE_BINARY_SHAPE("equal"),
                     .forward = comparison_forward<NaryOp::equal>,
                     .dtype = rules::boolean_result};

const OpDef op_sign{
    "sign", same_shape, unary_forward<UnaryOp::sign>, nullptr, nullptr};

namespace {

// --- unary: each derivative is written once and serves both rules ----------------------------

Tensor d_neg(const Saved& s) {
  return scalar_like(s.out[0], -1.0);
}
Tensor d_exp(const Saved& s) {
  return s.out[0];
}
Tensor d_log(const Saved& s) {
  return div(scalar_like(s.out[0], 1.0), s.in[0]);
}
Tensor d_expm1(const Saved& s) {
  return add(s.out[0], scalar_like(s.out[0], 1.0));
}
Tensor d_log1p(const Saved& s) {
  return div(scalar_like(s.out[0], 1.0), add(s.in[0], scalar_like(s.out[0], 1.0)));
}
Tensor d_sqrt(const Saved& s) {
  return div(scalar_like(s.out[0], 0.5), s.out[0]);
}
Tensor d_square(const Saved& s) {
  return mul(scalar_like(s.out[0], 2.0), s.in[0]);
}
Tensor d_pow(const Saved& s) {
  const double p = s.attrs.scalar;
  return mul(scalar_like(s.out[0], p), pow(s.in[0], p - 1.0));
}
Tensor d_abs(const Saved& s) { return sign(s.in[0]); }
Tensor d_tanh(const Saved& s) {
  return sub(scalar_like(s.out[0], 1.0), square(s.out[0]));
}
Tensor d_sigmoid(const Saved& s) {
  return mul(s.out[0], sub(scalar_like(s.out[0], 1.0), s.out[0]));
}
Tensor d_relu(const Saved& s) {
  return to_dtype(greater(s.in[0], scalar_like(s.out[0], 0.0)), s.out[0].dtype());
}
Tensor d_softplus(const Saved& s) { return sigmoid(s.in[0]); }
Tensor d_sin(const Saved& s) { return cos(s.in[0]); }
Tensor d_cos(const Saved& s) { return neg(sin(s.in[0])); }

}  // namespace

// The unary table (kernels/unary_ops.hpp): each row's primitive and entry function, with the
// rules multiplying by d_<name> above.
#define FLOWTAPE_DEFINE_UNARY(name, ...)                                                  \
  const OpDef op_##name{#name, same_shape, unary_forward<UnaryOp::name>,                  \
                        unary_jvp<d_##name>, unary_vjp<d_##name>};                        \
  Tensor name(const Tensor& x) { return apply(op_##name, {x}); }
FLOWTAPE_UNARY_OPS(FLOWTAPE_DEFINE_UNARY)
#undef FLOWTAPE_DEFINE_UNARY

const OpDef op_pow{
    "pow", same_shape,
    unary_forward<UnaryOp::pow_scalar>,
    unary_jvp<d_pow>, unary_vjp<d_pow>};

// The identity shares its input's buffer; it exists so a verb can give a tensor a fresh slot
// on the tape while keeping it connected to its origin.
const OpDef op_identity{
    "identity",
    same_shape,
    [](Inputs in, const Attrs&, Outputs out) { out[0].impl()->storage = in[0].impl()->storage; },
    [](const Saved&, Inputs t) -> TensorList { return t[0]; },
    [](const Saved&, Inputs g, Grads& out) { out[0] = g[0]; },
    rules::any_dtype,
    /*aliases_input=*/true};

Tensor add(const Tensor& a, const Tensor& b) { return apply(op_add, {a, b}); }
Tensor sub(const Tensor& a, const Tensor& b) { return apply(op_sub, {a, b}); }
Tensor mul(const Tensor& a, const Tensor& b) { return apply(op_mul, {a, b}); }
Tensor div(const Tensor& a, const Tensor& b) { return apply(op_div, {a, b}); }
Tensor where(const Tensor& c, const Tensor& a, const Tensor& b) {
  return apply(op_where, {c, a, b});
}
Tensor greater(const Tensor& a, const Tensor& b) { return apply(op_greater, {a, b}); }
Tensor less(const Tensor& a, const Tensor& b) { return apply(op_less, {a, b}); }
Tensor equal(const Tensor& a, const Tensor& b) { return apply(op_equal, {a, b}); }
Tensor sign(const Tensor& x) { return apply(op_sign, {x}); }
Tensor identity(const Tensor& x) {
  return apply(op_identity, {x});
}
Tensor pow(const Tensor& x, double exponent) {
  // An f32 tensor is raised to the exponent rounded to f32 (the kernel's): the shortcuts and the
  // derivative p x^(p-1) take that one too, or pow(x, 1 + 1e-9) would compute x exactly and
  // differentiate as x^(1 + 1e-9), NaN for x < 0.
  if (x.defined() && x.dtype() == DType::f32)
    exponent = static_cast<double>(static_cast<float>(exponent));
  // (The shortcuts refuse what op_pow refuses: an integer tensor.)
  if (x.defined() && (exponent == 0.0 || exponent == 1.0)) rules::floating({&x, 1}, 0, 1, "pow");
  if (exponent == 0.0) return ones_like(x);  // constant: no derivative, and no 0 * inf at x = 0
  if (exponent == 1.0) return x;
  if (exponent == 2.0) return square(x);
  Attrs a;
  a.scalar = exponent;
  return apply(op_pow, {x}, a);
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(b, a), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(b, a), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(b, a), b); }

}  // namespace flowtape
