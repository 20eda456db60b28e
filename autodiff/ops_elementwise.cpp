// SPDX-License-Identifier: MIT
// The op table, part 1: elementwise primitives. Each OpDef below is the single definition of
// its op: shape rule, forward kernel, JVP rule, VJP rule (see op.hpp).
#include <functional>
#include <initializer_list>
#include <stdexcept>

#include "flowtape/autodiff/cuda_backend.hpp"
#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/rules.hpp"
#include "flowtape/kernels/cpu/elementwise.hpp"
#include "flowtape/kernels/cpu/math.hpp"
#include "flowtape/kernels/cpu/silu_fused.hpp"

namespace flowtape {
namespace {

namespace cpu = kernels::cpu;
namespace fn = kernels::cpu::fn;
using CU = cuda_backend::Unary;
using CN = cuda_backend::Nary;
using rules::plus;
using rules::same_shape;
using rules::unary_jvp;
using rules::unary_vjp;

// Each forward names its CPU functor and its CUDA op code; the device picks one.
template <class F, CU C>
void unary_forward(Inputs in, const Attrs&, Tensor& out) {
  if (out.device() == Device::cuda) return cuda_backend::unary(C, in[0], out);
  dispatch(out.dtype(), [&]<class T>() {
    cpu::map_unary(in[0].data<T>(), out.data<T>(), out.numel(), F{});
  });
}

template <std::size_t N, class F>
void nary_forward(Inputs in, F f, CN code, Tensor& out) {
  if (out.device() == Device::cuda) return cuda_backend::nary(code, in, out);
  dispatch(out.dtype(), [&]<class T>() {
    std::array<const T*, N> p;
    std::array<const std::int64_t*, N> s;
    std::array<int, N> r;
    for (std::size_t k = 0; k < N; ++k) {
      p[k] = in[k].data<T>();
      s[k] = in[k].shape().data();
      r[k] = in[k].rank();
    }
    cpu::map_broadcast<T, N>(p, s, r, out.data<T>(), out.shape().data(), out.rank(), f);
  });
}

template <class F, CN C>
void binary_forward(Inputs in, const Attrs&, Tensor& out) {
  nary_forward<2>(in, F{}, C, out);
}

#define FLOWTAPE_BINARY_SHAPE(name) \
  [](Inputs in, const Attrs&) { return broadcast_shapes(in[0].shape(), in[1].shape(), name); }

// --- binary arithmetic ------------------------------------------------------------------------

const OpDef kAdd{
    "add", FLOWTAPE_BINARY_SHAPE("add"), binary_forward<fn::Add, CN::add>,
    [](const Saved&, Inputs t) { return plus(t[0], t[1]); },
    [](const Saved& s, const Tensor& g, Grads& out) {
      if (out.wants(0)) out[0] = sum_to(g, s.in[0].shape());
      if (out.wants(1)) out[1] = sum_to(g, s.in[1].shape());
    }};

const OpDef kSub{
    "sub", FLOWTAPE_BINARY_SHAPE("sub"), binary_forward<fn::Sub, CN::sub>,
    [](const Saved&, Inputs t) { return t[1].defined() ? plus(t[0], neg(t[1])) : t[0]; },
    [](const Saved& s, const Tensor& g, Grads& out) {
      if (out.wants(0)) out[0] = sum_to(g, s.in[0].shape());
      if (out.wants(1)) out[1] = neg(sum_to(g, s.in[1].shape()));
    }};

const OpDef kMul{
    "mul", FLOWTAPE_BINARY_SHAPE("mul"), binary_forward<fn::Mul, CN::mul>,
    [](const Saved& s, Inputs t) {
      return plus(t[0].defined() ? mul(t[0], s.in[1]) : Tensor(),
                  t[1].defined() ? mul(s.in[0], t[1]) : Tensor());
    },
    [](const Saved& s, const Tensor& g, Grads& out) {
      if (out.wants(0)) out[0] = sum_to(mul(g, s.in[1]), s.in[0].shape());
      if (out.wants(1)) out[1] = sum_to(mul(g, s.in[0]), s.in[1].shape());
    }};

// y = a / b: dy = (da - y db) / b.
const OpDef kDiv{
    "div", FLOWTAPE_BINARY_SHAPE("div"), binary_forward<fn::Div, CN::div>,
    [](const Saved& s, Inputs t) {
      return plus(t[0].defined() ? div(t[0], s.in[1]) : Tensor(),
                  t[1].defined() ? neg(div(mul(s.out, t[1]), s.in[1])) : Tensor());
    },
    [](const Saved& s, const Tensor& g, Grads& out) {
      if (out.wants(0)) out[0] = sum_to(div(g, s.in[1]), s.in[0].shape());
      if (out.wants(1)) out[1] = sum_to(neg(div(mul(g, s.out), s.in[1])), s.in[1].shape());
    }};

// --- selection and piecewise-constant ops -----------------------------------------------------

const OpDef kWhere{
    "where",
    [](Inputs in, const Attrs&) {
      return broadcast_shapes(in[0].shape(), broadcast_shapes(in[1].shape(), in[2].shape(), "where"),
                              "where");
    },
    [](Inputs in, const Attrs&, Tensor& out) { nary_forward<3>(in, fn::Where{}, CN::where, out); },
    [](const Saved& s, Inputs t) {
      const Tensor zero = scalar_like(s.out, 0.0);
      return where(s.in[0], t[1].defined() ? t[1] : zero, t[2].defined() ? t[2] : zero);
    },
    [](const Saved& s, const Tensor& g, Grads& out) {
      const Tensor zero = scalar_like(g, 0.0);
      if (out.wants(1)) out[1] = sum_to(where(s.in[0], g, zero), s.in[1].shape());
      if (out.wants(2)) out[2] = sum_to(where(s.in[0], zero, g), s.in[2].shape());
    }};

const OpDef kGreater{"greater", FLOWTAPE_BINARY_SHAPE("greater"), binary_forward<fn::Greater, CN::greater>,
                     nullptr, nullptr};
const OpDef kLess{"less", FLOWTAPE_BINARY_SHAPE("less"), binary_forward<fn::Less, CN::less>, nullptr, nullptr};
const OpDef kEqual{"equal", FLOWTAPE_BINARY_SHAPE("equal"), binary_forward<fn::Equal, CN::equal>, nullptr,
                   nullptr};
const OpDef kSign{"sign", same_shape, unary_forward<fn::Sign, CU::sign>, nullptr, nullptr};

// --- unary: each derivative is written once and serves both rules ----------------------------

Tensor d_neg(const Saved& s) { return scalar_like(s.out, -1.0); }
Tensor d_exp(const Saved& s) { return s.out; }
Tensor d_log(const Saved& s) { return div(scalar_like(s.out, 1.0), s.in[0]); }
Tensor d_expm1(const Saved& s) { return add(s.out, scalar_like(s.out, 1.0)); }
Tensor d_log1p(const Saved& s) {
  return div(scalar_like(s.out, 1.0), add(s.in[0], scalar_like(s.out, 1.0)));
}
Tensor d_sqrt(const Saved& s) { return div(scalar_like(s.out, 0.5), s.out); }
Tensor d_square(const Saved& s) { return mul(scalar_like(s.out, 2.0), s.in[0]); }
Tensor d_pow(const Saved& s) {
  const double p = s.attrs.scalar;
  return mul(scalar_like(s.out, p), pow(s.in[0], p - 1.0));
}
Tensor d_abs(const Saved& s) { return sign(s.in[0]); }
Tensor d_tanh(const Saved& s) { return sub(scalar_like(s.out, 1.0), square(s.out)); }
Tensor d_sigmoid(const Saved& s) { return mul(s.out, sub(scalar_like(s.out, 1.0), s.out)); }
Tensor d_relu(const Saved& s) { return greater(s.in[0], scalar_like(s.out, 0.0)); }
Tensor d_softplus(const Saved& s) { return sigmoid(s.in[0]); }
Tensor d_sin(const Saved& s) { return cos(s.in[0]); }
Tensor d_cos(const Saved& s) { return neg(sin(s.in[0])); }

#define FLOWTAPE_UNARY(name, functor, code, deriv)                                       \
  OpDef {                                                                                \
    name, same_shape, unary_forward<functor, CU::code>, unary_jvp<deriv>, unary_vjp<deriv> \
  }

const OpDef kNeg = FLOWTAPE_UNARY("neg", fn::Neg, neg, d_neg);
const OpDef kExp = FLOWTAPE_UNARY("exp", fn::Exp, exp, d_exp);
const OpDef kLog = FLOWTAPE_UNARY("log", fn::Log, log, d_log);
const OpDef kExpm1 = FLOWTAPE_UNARY("expm1", fn::Expm1, expm1, d_expm1);
const OpDef kLog1p = FLOWTAPE_UNARY("log1p", fn::Log1p, log1p, d_log1p);
const OpDef kSqrt = FLOWTAPE_UNARY("sqrt", fn::Sqrt, sqrt, d_sqrt);
const OpDef kSquare = FLOWTAPE_UNARY("square", fn::Square, square, d_square);
const OpDef kAbs = FLOWTAPE_UNARY("abs", fn::Abs, abs, d_abs);
const OpDef kTanh = FLOWTAPE_UNARY("tanh", fn::Tanh, tanh, d_tanh);
const OpDef kSigmoid = FLOWTAPE_UNARY("sigmoid", fn::Sigmoid, sigmoid, d_sigmoid);
const OpDef kRelu = FLOWTAPE_UNARY("relu", fn::Relu, relu, d_relu);
// silu's rules are one fused op each way: g silu'(x) (silu_grad, below). When they will run,
// the forward also keeps its denominator d = 1 + e^-x as the residual, and the rules hand it
// to silu_grad, which then skips the exp (the same bits; the device recomputes instead).
void silu_forward_residual(Inputs in, const Attrs& a, Tensor& out, Tensor& residual) {
  if (out.device() == Device::cuda) return unary_forward<fn::Silu, CU::silu>(in, a, out);
  residual = empty(out.shape(), out.dtype(), out.device());
  dispatch(out.dtype(), [&]<class T>() {
    cpu::map_unary2(in[0].data<T>(), out.data<T>(), residual.data<T>(), out.numel(),
                    fn::SiluAndDenominator{});
  });
}
// Whether a silu rule may run one of its fused kernels (kernels/cpu/silu_fused.hpp) instead
// of composing ops: x on the CPU, each operand defined and of x's shape (no broadcasting), and
// nothing traced (no recording, no tangent on the inputs or the operands; rules::untraced).
bool fusable(const Saved& s, std::initializer_list<std::reference_wrapper<const Tensor>> operands) {
  const Tensor& x = s.in[0];
  if (x.device() != Device::cpu || recording()) return false;
  const bool tangents = detail::tangents_enabled();
  for (const Tensor& a : s.in)
    if (tangents && a.has_tangent()) return false;
  for (const Tensor& a : operands)
    if (!a.defined() || !(a.shape() == x.shape()) || (tangents && a.has_tangent())) return false;
  return true;
}
// silu, its denominator and its tangent silu'(x) tx in one pass, on the CPU.
bool silu_forward_with_tangent(Inputs in, Inputs tangents, const Attrs&, Tensor& out,
                               Tensor& residual, Tensor& t) {
  const Tensor &x = in[0], &tx = tangents[0];
  if (x.device() != Device::cpu || !tx.defined() || !(tx.shape() == x.shape())) return false;
  residual = empty(x.shape(), x.dtype(), x.device());
  t = empty(x.shape(), x.dtype(), x.device());
  dispatch(x.dtype(), [&]<class T>() {
    cpu::silu_with_tangent(x.data<T>(), tx.data<T>(), out.data<T>(), residual.data<T>(),
                           t.data<T>(), x.numel());
  });
  return true;
}
// silu and its tangent ty = silu'(x) tx as one node (OpDef::vjp_with_tangent): with the
// cotangents gy of silu(x) and gty of ty,
//   x gets gy silu'(x) + (gty tx) silu''(x),  tx gets gty silu'(x),
// the rules of silu (the first term) and of silu_grad (the rest) summed. Untraced on the CPU
// with both cotangents, one kernel pass; otherwise composed of the derivative ops.
void silu_vjp_with_tangent(const Saved& s, Inputs tangents, const Tensor& gy, const Tensor& gty,
                           Grads& out) {
  const Tensor &x = s.in[0], &tx = tangents[0], &d = s.residual;
  if (fusable(s, {gy, gty, tx, d})) {
    out[0] = empty(x.shape(), x.dtype(), x.device());
    out[1] = empty(x.shape(), x.dtype(), x.device());
    dispatch(x.dtype(), [&]<class T>() {
      cpu::silu_with_tangent_vjp(x.data<T>(), d.data<T>(), tx.data<T>(), gy.data<T>(),
                                 gty.data<T>(), out[0].data<T>(), out[1].data<T>(), x.numel());
    });
    return;
  }
  if (out.wants(0))
    out[0] = plus(gty.defined() ? silu_grad2(x, mul(gty, tx), d) : Tensor(),
                  gy.defined() ? silu_grad(x, gy, d) : Tensor());
  if (out.wants(1) && gty.defined()) out[1] = silu_grad(x, gty, d);
}
const OpDef kSilu{
    "silu",
    same_shape,
    unary_forward<fn::Silu, CU::silu>,
    [](const Saved& s, Inputs t) { return silu_grad(s.in[0], t[0], s.residual); },
    [](const Saved& s, const Tensor& g, Grads& out) { out[0] = silu_grad(s.in[0], g, s.residual); },
    /*aliases_input=*/false,
    silu_forward_residual,
    silu_vjp_with_tangent,
    silu_forward_with_tangent};
const OpDef kSoftplus = FLOWTAPE_UNARY("softplus", fn::Softplus, softplus, d_softplus);
const OpDef kSin = FLOWTAPE_UNARY("sin", fn::Sin, sin, d_sin);
const OpDef kCos = FLOWTAPE_UNARY("cos", fn::Cos, cos, d_cos);

const OpDef kPow{
    "pow", same_shape,
    [](Inputs in, const Attrs& a, Tensor& out) {
      if (out.device() == Device::cuda)
        return cuda_backend::unary(CU::pow_scalar, in[0], out, a.scalar);
      dispatch(out.dtype(), [&]<class T>() {
        cpu::map_unary(in[0].data<T>(), out.data<T>(), out.numel(), fn::PowScalar{a.scalar});
      });
    },
    unary_jvp<d_pow>, unary_vjp<d_pow>};

// silu'''(x) = s' ((1 - 2s)(3 + x (1 - 2s)) - 2 x s'), s = sigmoid(x), s' = s (1 - s): the
// third derivative, needed only by the rules of silu_grad2 (third-order AD), so composed.
Tensor silu_d3(const Tensor& x) {
  const Tensor s = sigmoid(x);
  const Tensor one = scalar_like(x, 1.0);
  const Tensor sp = s * (one - s);
  const Tensor q = one - 2.0 * s;
  return sp * (q * (3.0 + x * q) - 2.0 * x * sp);
}

// silu_grad and silu_grad2 take an optional third input: silu's denominator d = 1 + e^-x for
// the same x, a cache the forward reads instead of recomputing the exp. It is a function of x,
// not a variable: the rules differentiate through x alone (d gets no cotangent) and pass d on.
Shape silu_derivative_shape(Inputs in, const char* name) {
  if (in.size() == 3 && !(in[2].shape() == in[0].shape()))
    throw std::invalid_argument(std::string(name) + ": the denominator has shape " +
                                in[2].shape().str() + ", x has " + in[0].shape().str());
  return broadcast_shapes(in[0].shape(), in[1].shape(), name);
}
template <class F, class FromDenominator, CN C>
void silu_derivative_forward(Inputs in, const Attrs& a, Tensor& out) {
  // The device kernels recompute the exp.
  if (in.size() == 3 && out.device() != Device::cuda)
    return nary_forward<3>(in, FromDenominator{}, C, out);
  binary_forward<F, C>(in.first(2), a, out);
}
Tensor denominator_of(const Saved& s) { return s.in.size() == 3 ? s.in[2] : Tensor(); }

// silu_grad's VJP in one kernel pass, where it applies: both cotangents wanted, the
// denominator at hand and fusable(). A backward pass meets it where silu_grad was recorded as
// an op: a JVP of silu whose input is off the tape while its tangent is on it, or the
// gradient of a gradient (grad inside a tape). Returns whether it wrote out[0] and out[1]
// (the bits of the composed rule below).
bool fused_silu_grad_vjp(const Saved& s, const Tensor& g, Grads& out) {
  const Tensor &x = s.in[0], &t = s.in[1];
  if (s.in.size() != 3 || !fusable(s, {t, g})) return false;
  out[0] = empty(x.shape(), x.dtype(), x.device());
  out[1] = empty(x.shape(), x.dtype(), x.device());
  dispatch(x.dtype(), [&]<class T>() {
    cpu::silu_grad_vjp(x.data<T>(), s.in[2].data<T>(), g.data<T>(), t.data<T>(), out[0].data<T>(),
                       out[1].data<T>(), x.numel());
  });
  return true;
}

// silu_grad(x, g) = g silu'(x):  d = dg silu'(x) + dx g silu''(x).
const OpDef kSiluGrad{
    "silu_grad",
    [](Inputs in, const Attrs&) { return silu_derivative_shape(in, "silu_grad"); },
    silu_derivative_forward<fn::SiluGrad, fn::SiluGradFromDenominator, CN::silu_grad>,
    [](const Saved& s, Inputs t) {
      const Tensor d = denominator_of(s);
      return plus(t[0].defined() ? silu_grad2(s.in[0], mul(s.in[1], t[0]), d) : Tensor(),
                  t[1].defined() ? silu_grad(s.in[0], t[1], d) : Tensor());
    },
    [](const Saved& s, const Tensor& g, Grads& out) {
      const Tensor d = denominator_of(s);
      if (out.wants(0) && out.wants(1) && fused_silu_grad_vjp(s, g, out)) return;
      if (out.wants(0)) out[0] = sum_to(silu_grad2(s.in[0], mul(g, s.in[1]), d), s.in[0].shape());
      if (out.wants(1)) out[1] = sum_to(silu_grad(s.in[0], g, d), s.in[1].shape());
    }};

// silu_grad2(x, g) = g silu''(x):  d = dg silu''(x) + dx g silu'''(x).
const OpDef kSiluGrad2{
    "silu_grad2",
    [](Inputs in, const Attrs&) { return silu_derivative_shape(in, "silu_grad2"); },
    silu_derivative_forward<fn::SiluGrad2, fn::SiluGrad2FromDenominator, CN::silu_grad2>,
    [](const Saved& s, Inputs t) {
      return plus(t[0].defined() ? mul(mul(s.in[1], t[0]), silu_d3(s.in[0])) : Tensor(),
                  t[1].defined() ? silu_grad2(s.in[0], t[1], denominator_of(s)) : Tensor());
    },
    [](const Saved& s, const Tensor& g, Grads& out) {
      if (out.wants(0)) out[0] = sum_to(mul(mul(g, s.in[1]), silu_d3(s.in[0])), s.in[0].shape());
      if (out.wants(1)) out[1] = sum_to(silu_grad2(s.in[0], g, denominator_of(s)), s.in[1].shape());
    }};

// The identity shares its input's buffer; it exists so a verb can give a tensor a fresh slot
// on the tape while keeping it connected to its origin.
const OpDef kIdentity{
    "identity", same_shape,
    [](Inputs in, const Attrs&, Tensor& out) { out.impl()->storage = in[0].impl()->storage; },
    [](const Saved&, Inputs t) { return t[0]; },
    [](const Saved&, const Tensor& g, Grads& out) { out[0] = g; }, /*aliases_input=*/true};

// A silu derivative op on (x, g), with the denominator as a third input when there is one.
Tensor apply_silu_derivative(const OpDef& op, const Tensor& x, const Tensor& g,
                             const Tensor& denominator) {
  if (!denominator.defined()) return apply(op, {x, g});
  return apply(op, {x, g, denominator});
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return apply(kAdd, {a, b}); }
Tensor sub(const Tensor& a, const Tensor& b) { return apply(kSub, {a, b}); }
Tensor mul(const Tensor& a, const Tensor& b) { return apply(kMul, {a, b}); }
Tensor div(const Tensor& a, const Tensor& b) { return apply(kDiv, {a, b}); }
Tensor where(const Tensor& c, const Tensor& a, const Tensor& b) { return apply(kWhere, {c, a, b}); }
Tensor greater(const Tensor& a, const Tensor& b) { return apply(kGreater, {a, b}); }
Tensor less(const Tensor& a, const Tensor& b) { return apply(kLess, {a, b}); }
Tensor equal(const Tensor& a, const Tensor& b) { return apply(kEqual, {a, b}); }
Tensor sign(const Tensor& x) { return apply(kSign, {x}); }
Tensor neg(const Tensor& x) { return apply(kNeg, {x}); }
Tensor exp(const Tensor& x) { return apply(kExp, {x}); }
Tensor log(const Tensor& x) { return apply(kLog, {x}); }
Tensor expm1(const Tensor& x) { return apply(kExpm1, {x}); }
Tensor log1p(const Tensor& x) { return apply(kLog1p, {x}); }
Tensor sqrt(const Tensor& x) { return apply(kSqrt, {x}); }
Tensor square(const Tensor& x) { return apply(kSquare, {x}); }
Tensor abs(const Tensor& x) { return apply(kAbs, {x}); }
Tensor tanh(const Tensor& x) { return apply(kTanh, {x}); }
Tensor sigmoid(const Tensor& x) { return apply(kSigmoid, {x}); }
Tensor relu(const Tensor& x) { return apply(kRelu, {x}); }
Tensor silu(const Tensor& x) { return apply(kSilu, {x}); }
Tensor softplus(const Tensor& x) { return apply(kSoftplus, {x}); }
Tensor sin(const Tensor& x) { return apply(kSin, {x}); }
Tensor cos(const Tensor& x) { return apply(kCos, {x}); }
Tensor identity(const Tensor& x) { return apply(kIdentity, {x}); }
Tensor silu_grad(const Tensor& x, const Tensor& g, const Tensor& denominator) {
  return apply_silu_derivative(kSiluGrad, x, g, denominator);
}
Tensor silu_grad2(const Tensor& x, const Tensor& g, const Tensor& denominator) {
  return apply_silu_derivative(kSiluGrad2, x, g, denominator);
}

Tensor pow(const Tensor& x, double exponent) {
  if (exponent == 0.0) return ones_like(x);  // constant: no derivative, and no 0 * inf at x = 0
  if (exponent == 1.0) return x;
  if (exponent == 2.0) return square(x);
  Attrs a;
  a.scalar = exponent;
  return apply(kPow, {x}, a);
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
