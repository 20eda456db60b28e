// SPDX-License-Identifier: MIT
// The op table, part 7: SiLU, its derivatives, and its fast paths.
//
// The reference: silu is a unary primitive whose rules call silu_grad(x, g) = g silu'(x), and
// silu_grad and silu_grad2 (g silu''(x)) are primitives too, one pass each where composing
// sigmoid and its products would take about seven per layer.
//
// Beside it, three primitives that do the same arithmetic in fewer passes, each with rules of
// its own (so every mode of differentiation goes through them) and each giving the
// reference's bits (tests/autodiff/test_silu_paths.cpp):
// - silu_keeping_denominator(x) -> y, residual d = 1 + e^-x: the rules hand d to silu_grad,
//   which then skips the exp;
// - silu_with_tangent(x, tx) -> y, ty = silu'(x) tx, residual d: silu and its tangent in one
//   pass and one tape node, for forward mode (the FDM loss's divergence runs in a jvp());
// - silu_with_tangent_vjp(x, tx, gy, gty, d) -> gx, gtx: that node's backward pass in one pass.
// silu() picks one of them where it applies, an explicit rewrite at the bottom of this file.
// The three run on the CPU only (their fused kernels are in kernels/cpu/silu_fused.hpp).
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/elementwise_forward.hpp"
#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/op_list.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/rules.hpp"
#include "flowtape/autodiff/tape.hpp"
#include "flowtape/kernels/cpu/silu_fused.hpp"

namespace flowtape {
namespace {

namespace cpu = kernels::cpu;
namespace fn = kernels::cpu::fn;
using rules::plus;

// a * b, where an undefined factor means zero.
Tensor times(const Tensor& a, const Tensor& b) {
  return a.defined() && b.defined() ? mul(a, b) : Tensor();
}

// silu'''(x) = s' ((1 - 2s)(3 + x (1 - 2s)) - 2 x s'), s = sigmoid(x), s' = s (1 - s): the
// third derivative, needed only by rules of rules (third-order AD), so composed.
Tensor silu_d3(const Tensor& x) {
  const Tensor s = sigmoid(x);
  const Tensor one = scalar_like(x, 1.0);
  const Tensor sp = s * (one - s);
  const Tensor q = one - 2.0 * s;
  return sp * (q * (3.0 + x * q) - 2.0 * x * sp);
}

// --- the reference --------------------------------------------------------------------------

}  // namespace

const OpDef op_silu{
    "silu", rules::same_shape, rules::unary_forward<UnaryOp::silu>,
    [](const Saved& s, Inputs t) -> TensorList { return silu_grad(s.in[0], t[0]); },
    [](const Saved& s, Inputs g, Grads& out) { out[0] = silu_grad(s.in[0], g[0]); }};

namespace {

// silu_grad and silu_grad2 take an optional third input: silu's denominator d = 1 + e^-x for
// the same x, a cache the forward reads instead of recomputing the exp. It is a function of x,
// not a variable: the rules differentiate through x alone (d gets no cotangent) and pass d on.
Shape silu_derivative_shape(Inputs in, const char* name) {
  if (in.size() == 3 && !(in[2].shape() == in[0].shape()))
    throw std::invalid_argument(std::string(name) + ": the denominator has shape " +
                                in[2].shape().str() + ", x has " + in[0].shape().str());
  return broadcast_shapes(in[0].shape(), in[1].shape(), name);
}
template <NaryOp Plain, NaryOp WithDenominator>
void silu_derivative_forward(Inputs in, const Attrs&, Outputs out) {
  backend_of(out[0]).nary(in.size() == 3 ? WithDenominator : Plain, in, out[0]);
}
Tensor denominator_of(const Saved& s) {
  return s.in.size() == 3 ? s.in[2] : Tensor();
}

}  // namespace

// silu_grad(x, g) = g silu'(x):  d = dg silu'(x) + dx g silu''(x).
const OpDef op_silu_grad{
    "silu_grad", [](Inputs in, const Attrs&) { return silu_derivative_shape(in, "silu_grad"); },
    silu_derivative_forward<NaryOp::silu_grad, NaryOp::silu_grad_denominator>,
    [](const Saved& s, Inputs t) -> TensorList {
      const Tensor d = denominator_of(s);
      return plus(t[0].defined() ? silu_grad2(s.in[0], mul(s.in[1], t[0]), d) : Tensor(),
                  t[1].defined() ? silu_grad(s.in[0], t[1], d) : Tensor());
    },
    [](const Saved& s, Inputs g, Grads& out) {
      const Tensor d = denominator_of(s);
      if (out.wants(0))
        out[0] = sum_to(silu_grad2(s.in[0], mul(g[0], s.in[1]), d), s.in[0].shape());
      if (out.wants(1)) out[1] = sum_to(silu_grad(s.in[0], g[0], d), s.in[1].shape());
    }};

// silu_grad2(x, g) = g silu''(x):  d = dg silu''(x) + dx g silu'''(x).
const OpDef op_silu_grad2{
    "silu_grad2", [](Inputs in, const Attrs&) { return silu_derivative_shape(in, "silu_grad2"); },
    silu_derivative_forward<NaryOp::silu_grad2, NaryOp::silu_grad2_denominator>,
    [](const Saved& s, Inputs t) -> TensorList {
      return plus(t[0].defined() ? mul(mul(s.in[1], t[0]), silu_d3(s.in[0])) : Tensor(),
                  t[1].defined() ? silu_grad2(s.in[0], t[1], denominator_of(s)) : Tensor());
    },
    [](const Saved& s, Inputs g, Grads& out) {
      if (out.wants(0)) out[0] = sum_to(mul(mul(g[0], s.in[1]), silu_d3(s.in[0])), s.in[0].shape());
      if (out.wants(1))
        out[1] = sum_to(silu_grad2(s.in[0], g[0], denominator_of(s)), s.in[1].shape());
    }};

namespace {

// --- the fast paths -------------------------------------------------------------------------

// The shape rule of a primitive whose inputs all have the same shape.
template <const char* Name>
Shape all_same_shape(Inputs in, const Attrs&) {
  for (const Tensor& x : in)
    if (!(x.shape() == in[0].shape()))
      throw std::invalid_argument(std::string(Name) + ": operands of shapes " +
                                  in[0].shape().str() + " and " + x.shape().str() +
                                  " (no broadcasting here)");
  return in[0].shape();
}
Tensor like(const Tensor& x) {
  return empty(x.shape(), x.dtype(), x.device());
}

}  // namespace

const OpDef op_silu_keeping_denominator{
    .name = "silu_keeping_denominator",
    .shape = rules::same_shape,
    .forward =
        [](Inputs in, const Attrs&, Outputs out) {
          rules::require_cpu("silu_keeping_denominator", "silu()", in[0]);
          out[1] = like(in[0]);
          dispatch(in[0].dtype(), [&]<class T>() {
            cpu::map_unary2(in[0].data<T>(), out[0].mutable_data<T>(), out[1].mutable_data<T>(),
                            in[0].numel(), fn::SiluAndDenominator{});
          });
        },
    .jvp = [](const Saved& s, Inputs t) -> TensorList {
      return silu_grad(s.in[0], t[0], s.out[1]);
    },
    .vjp = [](const Saved& s, Inputs g,
              Grads& out) { out[0] = silu_grad(s.in[0], g[0], s.out[1]); },
    .residuals = 1};

namespace {

// silu_with_tangent_vjp(x, tx, gy, gty, d): with y = silu(x) and ty = silu'(x) tx,
//   gx = gy silu'(x) + gty tx silu''(x),   gtx = gty silu'(x).
constexpr char kSiluWithTangentVjpName[] = "silu_with_tangent_vjp";
}  // namespace

const OpDef op_silu_with_tangent_vjp{
    .name = kSiluWithTangentVjpName,
    .shape = all_same_shape<kSiluWithTangentVjpName>,
    .forward =
        [](Inputs in, const Attrs&, Outputs out) {
          rules::require_cpu(kSiluWithTangentVjpName, "silu()", in[0]);
          out[1] = like(in[0]);
          dispatch(in[0].dtype(), [&]<class T>() {
            cpu::silu_with_tangent_vjp(in[0].data<T>(), in[4].data<T>(), in[1].data<T>(),
                                       in[2].data<T>(), in[3].data<T>(), out[0].mutable_data<T>(),
                                       out[1].mutable_data<T>(), in[0].numel());
          });
        },
    // dgx = dgy s' + (gy s'' + gty tx s''') dx + (dgty tx + gty dtx) s'',
    // dgtx = dgty s' + gty s'' dx.
    .jvp = [](const Saved& s, Inputs t) -> TensorList {
      const Tensor &x = s.in[0], &tx = s.in[1], &gy = s.in[2], &gty = s.in[3], &d = s.in[4];
      const Tensor &dx = t[0], &dtx = t[1], &dgy = t[2], &dgty = t[3];
      const Tensor through_tangent = plus(times(dgty, tx), times(gty, dtx));
      Tensor dgx = plus(dgy.defined() ? silu_grad(x, dgy, d) : Tensor(),
                        through_tangent.defined() ? silu_grad2(x, through_tangent, d) : Tensor());
      if (dx.defined())
        dgx = plus(dgx, plus(silu_grad2(x, mul(gy, dx), d), mul(mul(gty, tx), dx) * silu_d3(x)));
      const Tensor dgtx = plus(dgty.defined() ? silu_grad(x, dgty, d) : Tensor(),
                               dx.defined() ? silu_grad2(x, mul(gty, dx), d) : Tensor());
      return {dgx, dgtx};
    },
    // With the cotangents ax of gx and atx of gtx:
    //   x: ax (gy s'' + gty tx s''') + atx gty s'',  tx: ax gty s'',
    //   gy: ax s',  gty: ax tx s'' + atx s'.
    .vjp =
        [](const Saved& s, Inputs g, Grads& out) {
          const Tensor &x = s.in[0], &tx = s.in[1], &gy = s.in[2], &gty = s.in[3], &d = s.in[4];
          const Tensor &ax = g[0], &atx = g[1];
          if (out.wants(0)) {
            Tensor gx = atx.defined() ? silu_grad2(x, mul(atx, gty), d) : Tensor();
            if (ax.defined())
              gx =
                  plus(gx, plus(silu_grad2(x, mul(ax, gy), d), mul(mul(ax, gty), tx) * silu_d3(x)));
            out[0] = gx;
          }
          if (out.wants(1) && ax.defined()) out[1] = silu_grad2(x, mul(ax, gty), d);
          if (out.wants(2) && ax.defined()) out[2] = silu_grad(x, ax, d);
          if (out.wants(3))
            out[3] = plus(ax.defined() ? silu_grad2(x, mul(ax, tx), d) : Tensor(),
                          atx.defined() ? silu_grad(x, atx, d) : Tensor());
        },
    .outputs = 2};

namespace {

constexpr char kSiluWithTangentName[] = "silu_with_tangent";
}  // namespace

const OpDef op_silu_with_tangent{
    .name = kSiluWithTangentName,
    .shape = all_same_shape<kSiluWithTangentName>,
    .forward =
        [](Inputs in, const Attrs&, Outputs out) {
          rules::require_cpu(kSiluWithTangentName, "silu()", in[0]);
          out[1] = like(in[0]);
          out[2] = like(in[0]);
          dispatch(in[0].dtype(), [&]<class T>() {
            cpu::silu_with_tangent(in[0].data<T>(), in[1].data<T>(), out[0].mutable_data<T>(),
                                   out[2].mutable_data<T>(), out[1].mutable_data<T>(),
                                   in[0].numel());
          });
        },
    // dy = silu'(x) dx,  dty = silu''(x) tx dx + silu'(x) dtx.
    .jvp = [](const Saved& s, Inputs t) -> TensorList {
      const Tensor &x = s.in[0], &tx = s.in[1], &d = s.out[2];
      const Tensor dy = t[0].defined() ? silu_grad(x, t[0], d) : Tensor();
      const Tensor dty = plus(t[0].defined() ? silu_grad2(x, mul(tx, t[0]), d) : Tensor(),
                              t[1].defined() ? silu_grad(x, t[1], d) : Tensor());
      return {dy, dty};
    },
    // Both cotangents at hand: one pass (silu_with_tangent_vjp); else the terms that remain.
    .vjp =
        [](const Saved& s, Inputs g, Grads& out) {
          const Tensor &x = s.in[0], &tx = s.in[1], &d = s.out[2];
          const Tensor &gy = g[0], &gty = g[1];
          if (gy.defined() && gty.defined()) {
            TensorList r = apply_all(op_silu_with_tangent_vjp, {x, tx, gy, gty, d});
            out[0] = std::move(r[0]);
            out[1] = std::move(r[1]);
            return;
          }
          if (out.wants(0))
            out[0] = gy.defined() ? silu_grad(x, gy, d) : silu_grad2(x, mul(gty, tx), d);
          if (out.wants(1) && gty.defined()) out[1] = silu_grad(x, gty, d);
        },
    .outputs = 2,
    .residuals = 1};

namespace {

// A silu derivative op on (x, g), with the denominator as a third input when there is one.
Tensor apply_silu_derivative(const OpDef& op, const Tensor& x, const Tensor& g,
                             const Tensor& denominator) {
  if (!denominator.defined()) return apply(op, {x, g});
  return apply(op, {x, g, denominator});
}

}  // namespace

Tensor silu_grad(const Tensor& x, const Tensor& g, const Tensor& denominator) {
  return apply_silu_derivative(op_silu_grad, x, g, denominator);
}
Tensor silu_grad2(const Tensor& x, const Tensor& g, const Tensor& denominator) {
  return apply_silu_derivative(op_silu_grad2, x, g, denominator);
}

namespace detail {
TensorList silu_keeping_denominator(const Tensor& x) {
  return apply_all(op_silu_keeping_denominator, {x});
}
TensorList silu_with_tangent(const Tensor& x, const Tensor& tx) {
  return apply_all(op_silu_with_tangent, {x, tx});
}
TensorList silu_with_tangent_vjp(const Tensor& x, const Tensor& tx, const Tensor& gy,
                                 const Tensor& gty, const Tensor& d) {
  return apply_all(op_silu_with_tangent_vjp, {x, tx, gy, gty, d});
}
}  // namespace detail

// The rewrite. On the CPU, silu whose tangent is computed (inside one jvp(), not nested;
// apply() gives every tangent its tensor's shape) runs silu_with_tangent with the tangent as an
// explicit input: apply() then computes no tangent for it (tangents are off around the call), and y
// gets ty as its tangent here. Otherwise a silu that will be differentiated (x on the recording
// tape) keeps its denominator; anything else (inference, the GPU) runs the reference.
Tensor silu(const Tensor& x) {
  if (x.defined() && x.device() == Device::cpu) {
    if (detail::tangent_depth() == 1 && x.has_tangent()) {
      const Tensor tx = x.tangent();
      TensorList r;
      {
        detail::TangentsOff the_tangent_is_an_input;
        r = apply_all(op_silu_with_tangent, {x, tx});
      }
      r[0].impl()->set_tangent(0, std::move(r[1]));
      return std::move(r[0]);
    } else if (Tape* tape = recording() ? Tape::active() : nullptr; tape && tape->tracks(x)) {
      return std::move(apply_all(op_silu_keeping_denominator, {x})[0]);
    }
  }
  return apply(op_silu, {x});
}

}  // namespace flowtape
