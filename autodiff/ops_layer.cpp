// SPDX-License-Identifier: MIT
// The op table, part 6: a fused layer. linear_silu(x, w, b) = silu(x w^T + b), an MLP's hidden
// layer as one primitive. Against linear followed by silu it saves a tape node and, in the
// backward pass, the bias gradient's own pass over [m, n]: one kernel writes g silu'(z) and
// sums its columns (kernels/cpu/fused_layer.hpp). Every result has the bits of the two ops.
//
// Its rules need the pre-activation z. The forward keeps z (and silu's denominator) as the
// residual, but a residual is a constant to the tape, so the rules read it only where nothing
// they compute is recorded or carries a tangent (a plain backward pass). Elsewhere (second
// order, forward over reverse) they recompute z = linear(x, w, b), tracked, which gives the
// same values. The JVP rule always recomputes, so linear_silu() runs the two ops instead
// wherever a tangent would flow through the layer (inside jvp(), as the FDM loss does).
#include <stdexcept>

#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/rules.hpp"
#include "flowtape/kernels/cpu/elementwise.hpp"
#include "flowtape/kernels/cpu/fused_layer.hpp"
#include "flowtape/kernels/cpu/math.hpp"

namespace flowtape {
namespace {

namespace cpu = kernels::cpu;
namespace fn = kernels::cpu::fn;

void require_cpu(const Tensor& out) {
  // linear_silu() sends device tensors to linear and silu; only a caller of the op itself
  // could get here.
  if (out.device() != Device::cpu)
    throw std::logic_error("linear_silu: the fused op runs on the CPU only");
}

// Without rules to feed (inference, NoGrad): z goes into the output and silu runs over it.
void forward_plain(Inputs in, const Attrs&, Tensor& out) {
  require_cpu(out);
  dispatch(out.dtype(), [&]<class T>() {
    T* y = out.data<T>();
    rules::affine_cpu<T>(in, y);
    cpu::map_unary(y, y, out.numel(), fn::Silu{});
  });
}

// With rules to feed, the residual [2, m, n] holds z, then silu's denominator 1 + e^-z.
void forward_residual(Inputs in, const Attrs&, Tensor& out, Tensor& residual) {
  require_cpu(out);
  residual = empty(Shape{2, out.size(0), out.size(1)}, out.dtype(), out.device());
  dispatch(out.dtype(), [&]<class T>() {
    T* z = residual.data<T>();
    rules::affine_cpu<T>(in, z);
    cpu::map_unary2(z, out.data<T>(), z + out.numel(), out.numel(), fn::SiluAndDenominator{});
  });
}

// Whether the VJP rule may read z from the residual (see rules::untraced).
bool plain_backward(const Saved& s, const Tensor& g) {
  return s.residual.defined() && g.shape() == s.out.shape() && rules::untraced(s, g);
}

const OpDef kLinearSilu{
    "linear_silu", [](Inputs in, const Attrs&) { return rules::affine_shape(in, "linear_silu"); },
    forward_plain,
    // d silu(z) = silu'(z) dz, with z recomputed (tracked) and dz = dx w^T + x dw^T + db.
    [](const Saved& s, Inputs t) {
      const Tensor dz = rules::affine_tangent(s.in, t);
      if (!dz.defined()) return Tensor();
      return silu_grad(linear(s.in[0], s.in[1], s.in[2]), dz);
    },
    // gz = g silu'(z); dx = gz w, dw = gz^T x, db = the column sums of gz.
    [](const Saved& s, const Tensor& g, Grads& out) {
      const Tensor &x = s.in[0], &w = s.in[1];
      Tensor gz, db;
      if (plain_backward(s, g)) {
        const std::int64_t m = s.out.size(0), n = s.out.size(1);
        gz = empty(s.out.shape(), s.out.dtype(), s.out.device());
        if (out.wants(2)) db = empty(Shape{n}, s.out.dtype(), s.out.device());
        dispatch(gz.dtype(), [&]<class T>() {
          const T* z = s.residual.data<T>();
          cpu::silu_grad_and_column_sums(z, g.data<T>(), z + m * n, gz.data<T>(),
                                         db.defined() ? db.data<T>() : nullptr, m, n);
        });
      } else {
        gz = silu_grad(linear(x, w, s.in[2]), g);
        if (out.wants(2)) db = sum(gz, 0, false);
      }
      if (out.wants(0)) out[0] = matmul(gz, w, false, false);
      if (out.wants(1)) out[1] = matmul(gz, x, true, false);
      if (out.wants(2)) out[2] = db;
    },
    /*aliases_input=*/false, forward_residual};

}  // namespace

namespace detail {
Tensor linear_silu_op(const Tensor& x, const Tensor& w, const Tensor& b) {
  return apply(kLinearSilu, {x, w, b});
}
}  // namespace detail

Tensor linear_silu(const Tensor& x, const Tensor& w, const Tensor& b) {
  const bool defined = x.defined() && w.defined() && b.defined();
  const bool tangent = defined && detail::tangents_enabled() &&
                       (x.has_tangent() || w.has_tangent() || b.has_tangent());
  if (!defined || tangent || x.device() != Device::cpu) return silu(linear(x, w, b));
  return detail::linear_silu_op(x, w, b);
}

}  // namespace flowtape
