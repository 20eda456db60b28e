// SPDX-License-Identifier: MIT
// The op table, part 6: a fused layer. linear_silu(x, w, b) = silu(x w^T + b), an MLP's hidden
// layer as one primitive of outputs y = silu(z), z = x w^T + b (differentiable both) and the
// residual d = 1 + e^-z. Against linear followed by silu it saves a tape node and, in the
// backward pass, the bias gradient's own pass over [m, n]: silu_grad_column_sums writes
// g silu'(z) and sums its columns in one kernel (kernels/cpu/fused_layer.hpp). Every result
// has the bits of the two ops (tests/autodiff/test_silu_paths.cpp).
//
// z is an output, not a residual, so that the rules may read it even where what they compute
// is differentiated again (second order): a rule's ops that read z are recorded as reading
// this node's output, and the tape brings their cotangent back to z.
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/op_list.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/rules.hpp"
#include "flowtape/autodiff/tape.hpp"
#include "flowtape/kernels/cpu/elementwise.hpp"
#include "flowtape/kernels/cpu/fused_layer.hpp"
#include "flowtape/kernels/cpu/math.hpp"
#include "flowtape/runtime/backend.hpp"

namespace flowtape {
namespace {

namespace cpu = kernels::cpu;
namespace fn = kernels::cpu::fn;

}  // namespace

// silu_grad_column_sums(z, g, d) -> gz = g silu'(z) [m, n] and db = gz's column sums [n]: the
// backward pass of the layer's activation and bias in one pass.
const OpDef op_silu_grad_column_sums{
    .name = "silu_grad_column_sums",
    .shape =
        [](Inputs in, const Attrs&) {
          const Shape& z = in[0].shape();
          if (z.rank() != 2 || !(in[1].shape() == z) || !(in[2].shape() == z))
            throw std::invalid_argument(
                "silu_grad_column_sums: expected z, g and d of one shape "
                "[m, n], got " +
                z.str() + ", " + in[1].shape().str() + ", " + in[2].shape().str());
          return z;
        },
    .forward =
        [](Inputs in, const Attrs&, Outputs out) {
          rules::require_cpu("silu_grad_column_sums", "linear_silu()", in[0]);
          const std::int64_t m = in[0].size(0), n = in[0].size(1);
          out[1] = empty(Shape{n}, in[0].dtype(), in[0].device());
          dispatch(in[0].dtype(), [&]<class T>() {
            cpu::silu_grad_and_column_sums(in[0].data<T>(), in[1].data<T>(), in[2].data<T>(),
                                           out[0].mutable_data<T>(), out[1].mutable_data<T>(), m,
                                           n);
          });
        },
    // dgz = dg silu'(z) + g dz silu''(z),  ddb = dgz's column sums.
    .jvp = [](const Saved& s, Inputs t) -> TensorList {
      const Tensor &z = s.in[0], &g = s.in[1], &d = s.in[2];
      const Tensor dgz = rules::plus(t[1].defined() ? silu_grad(z, t[1], d) : Tensor(),
                                     t[0].defined() ? silu_grad2(z, mul(g, t[0]), d) : Tensor());
      if (!dgz.defined()) return TensorList(2);
      return {dgz, sum(dgz, 0, false)};
    },
    // With the cotangents a of gz and c of db, gz's total cotangent is a + c (each row):
    // z gets (a + c) g silu''(z), g gets (a + c) silu'(z).
    .vjp =
        [](const Saved& s, Inputs g, Grads& out) {
          const Tensor &z = s.in[0], &d = s.in[2];
          const Tensor a =
              rules::plus(g[0], g[1].defined() ? broadcast_to(g[1], z.shape()) : Tensor());
          if (out.wants(0)) out[0] = silu_grad2(z, mul(a, s.in[1]), d);
          if (out.wants(1)) out[1] = silu_grad(z, a, d);
        },
    .outputs = 2};

const OpDef op_linear_silu{
    .name = "linear_silu",
    .shape = [](Inputs in, const Attrs&) { return rules::affine_shape(in, "linear_silu"); },
    .forward =
        [](Inputs in, const Attrs&, Outputs out) {
          rules::require_cpu("linear_silu", "linear_silu()", in[0]);
          out[1] = empty(out[0].shape(), out[0].dtype(), out[0].device());
          out[2] = empty(out[0].shape(), out[0].dtype(), out[0].device());
          backend_of(out[1]).linear(in[0], in[1], in[2], out[1]);  // z, then y and d from z
          dispatch(out[0].dtype(), [&]<class T>() {
            cpu::map_unary2(out[1].data<T>(), out[0].mutable_data<T>(), out[2].mutable_data<T>(),
                            out[0].numel(), fn::SiluAndDenominator{});
          });
        },
    // dz = dx w^T + x dw^T + db,  dy = silu'(z) dz.
    .jvp = [](const Saved& s, Inputs t) -> TensorList {
      const Tensor dz = rules::affine_tangent(s.in, t);
      if (!dz.defined()) return TensorList(2);
      return {silu_grad(s.out[1], dz, s.out[2]), dz};
    },
    // gz = gy silu'(z) + (z's own cotangent); dx = gz w, dw = gz^T x, db = the column sums
    // of gz, the first two terms in one pass where z has no cotangent of its own.
    .vjp =
        [](const Saved& s, Inputs g, Grads& out) {
          const Tensor &x = s.in[0], &w = s.in[1], &z = s.out[1], &d = s.out[2];
          Tensor gz, db;
          if (g[0].defined() && !g[1].defined()) {
            TensorList r = apply_all(op_silu_grad_column_sums, {z, g[0], d});
            gz = std::move(r[0]);
            db = std::move(r[1]);
          } else {
            gz = rules::plus(g[0].defined() ? silu_grad(z, g[0], d) : Tensor(), g[1]);
            if (out.wants(2)) db = sum(gz, 0, false);
          }
          if (out.wants(0)) out[0] = matmul(gz, w, false, false);
          if (out.wants(1)) out[1] = matmul(gz, x, true, false);
          if (out.wants(2)) out[2] = db;
        },
    .outputs = 2,
    .residuals = 1};

namespace detail {
TensorList linear_silu_op(const Tensor& x, const Tensor& w, const Tensor& b) {
  return apply_all(op_linear_silu, {x, w, b});
}
TensorList silu_grad_column_sums(const Tensor& z, const Tensor& g, const Tensor& d) {
  return apply_all(op_silu_grad_column_sums, {z, g, d});
}
}  // namespace detail

// The rewrite: the fused layer where it will be differentiated in reverse mode only (some
// input on the recording tape, no tangent flowing, on the CPU); elsewhere the two ops, which
// give the same bits (inference needs neither z nor d).
Tensor linear_silu(const Tensor& x, const Tensor& w, const Tensor& b) {
  const bool defined = x.defined() && w.defined() && b.defined();
  if (!defined || x.device() != Device::cpu) return silu(linear(x, w, b));
  bool tangent = false;
  for (int k = 0; k < detail::tangent_depth(); ++k)
    for (const Tensor* p : {&x, &w, &b})
      tangent |= p->impl()->tangent(k).defined();
  Tape* tape = recording() ? Tape::active() : nullptr;
  const bool taped = tape && (tape->tracks(x) || tape->tracks(w) || tape->tracks(b));
  if (tangent || !taped) return silu(linear(x, w, b));
  return std::move(detail::linear_silu_op(x, w, b)[0]);
}

}  // namespace flowtape
