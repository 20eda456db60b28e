// SPDX-License-Identifier: MIT
// The op table, part 3: matrix multiplication, op(a) @ op(b), on 2-D matrices or 3-D batches
// of them, and the affine layer linear(x, w, b) = x w^T + b. The transposes are flags passed
// to the GEMM's packing, never materialised, which is what keeps the backward pass (g @ b^T,
// a^T @ g) as cheap as the forward.
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/op_list.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/rules.hpp"
#include "flowtape/runtime/backend.hpp"

namespace flowtape {
namespace {

struct Dims {
  std::int64_t batch, m, k, n;
};

Dims matmul_dims(const Shape& a, const Shape& b, bool ta, bool tb) {
  const int r = a.rank();
  const auto fail = [&](const std::string& why) {
    return std::invalid_argument("matmul: shapes " + a.str() + (ta ? "^T" : "") + " and " + b.str() +
                                 (tb ? "^T" : "") + " are incompatible: " + why);
  };
  if (r < 2 || r > 3 || b.rank() != r)
    throw fail("both operands must be 2-D, or both 3-D batches (a [..., m, k] @ b [k, n] is "
               "also accepted)");
  if (r == 3 && a[0] != b[0])
    throw fail("batch sizes " + std::to_string(a[0]) + " and " + std::to_string(b[0]) + " differ");
  Dims d{r == 3 ? a[0] : 1, ta ? a[r - 1] : a[r - 2], ta ? a[r - 2] : a[r - 1], tb ? b[r - 2] : b[r - 1]};
  const std::int64_t kb = tb ? b[r - 1] : b[r - 2];
  if (d.k != kb)
    throw fail("inner dimensions " + std::to_string(d.k) + " and " + std::to_string(kb) + " differ");
  return d;
}

}  // namespace

const OpDef op_matmul{
    "matmul",
    [](Inputs in, const Attrs& at) {
      const Dims d = matmul_dims(in[0].shape(), in[1].shape(), at.trans_a, at.trans_b);
      return in[0].rank() == 3 ? Shape{d.batch, d.m, d.n} : Shape{d.m, d.n};
    },
    [](Inputs in, const Attrs& at, Outputs out) {
      const Dims d = matmul_dims(in[0].shape(), in[1].shape(), at.trans_a, at.trans_b);
      backend_of(out[0]).matmul(in[0], in[1], at.trans_a, at.trans_b, d.batch, d.m, d.n, d.k,
                                out[0]);
    },
    [](const Saved& s, Inputs t) -> TensorList {
      const bool ta = s.attrs.trans_a, tb = s.attrs.trans_b;
      return rules::plus(t[0].defined() ? matmul(t[0], s.in[1], ta, tb) : Tensor(),
                         t[1].defined() ? matmul(s.in[0], t[1], ta, tb) : Tensor());
    },
    // C = op(A) op(B):  dA = g op(B)^T (transposed back when A was),  dB = op(A)^T g (likewise).
    [](const Saved& s, Inputs g, Grads& out) {
      const Tensor &a = s.in[0], &b = s.in[1];
      const bool ta = s.attrs.trans_a, tb = s.attrs.trans_b;
      if (out.wants(0)) out[0] = ta ? matmul(b, g[0], tb, true) : matmul(g[0], b, false, !tb);
      if (out.wants(1)) out[1] = tb ? matmul(g[0], a, true, ta) : matmul(a, g[0], !ta, false);
    }};

// linear(x, w, b) = x w^T + b, the affine layer as one primitive: the GEMM adds the bias row
// as it stores each tile of x w^T (its bias epilogue), which saves the broadcast add's extra
// pass over the [m, n] output, its allocation and its tape node, and the pass that would
// fill the output with bias rows first.
const OpDef op_linear{
    "linear", [](Inputs in, const Attrs&) { return rules::affine_shape(in, "linear"); },
    [](Inputs in, const Attrs&, Outputs out) {
      backend_of(out[0]).linear(in[0], in[1], in[2], out[0]);
    },
    [](const Saved& s, Inputs t) -> TensorList { return rules::affine_tangent(s.in, t); },
    // dx = g w, dw = g^T x, db = the column sums of g.
    [](const Saved& s, Inputs g, Grads& out) {
      if (out.wants(0)) out[0] = matmul(g[0], s.in[1], false, false);
      if (out.wants(1)) out[1] = matmul(g[0], s.in[0], true, false);
      if (out.wants(2)) out[2] = sum(g[0], 0, false);
    }};

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  return apply(op_linear, {x, w, b});
}

namespace {

// Batches of any rank, NumPy's rule: a [..., m, k] @ b [..., k, n] with the leading axes
// broadcast against each other (a 2-D operand is one matrix for the whole batch). Written
// with the primitive's 3-D batched form: each operand is broadcast to the batch shape (a copy
// only where it needs one), flattened to [batch, rows, cols], multiplied, and the result given
// the batch shape back.
Tensor batched_matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const Shape &sa = a.shape(), &sb = b.shape();
  const auto leading = [](const Shape& s) {
    Shape l;
    for (int d = 0; d + 2 < s.rank(); ++d) l.push_back(s[d]);
    return l;
  };
  const Shape batch = broadcast_shapes(leading(sa), leading(sb), "matmul (batch axes)");
  const auto to_batch = [&](const Tensor& x) {
    Shape full = batch, flat{batch.numel()};
    for (int d = x.rank() - 2; d < x.rank(); ++d) {
      full.push_back(x.shape()[d]);
      flat.push_back(x.shape()[d]);
    }
    return reshape(broadcast_to(x, full), flat);
  };
  Attrs at;
  at.trans_a = trans_a;
  at.trans_b = trans_b;
  const Tensor y = apply(op_matmul, {to_batch(a), to_batch(b)}, at);
  Shape out = batch;
  out.push_back(y.size(1));
  out.push_back(y.size(2));
  return reshape(y, out);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  if (a.defined() && b.defined() && a.rank() >= 2 && b.rank() >= 2 &&
      (a.rank() > 3 || b.rank() > 3 || a.rank() != b.rank() ||
       (a.rank() == 3 && a.size(0) != b.size(0))))
    return batched_matmul(a, b, trans_a, trans_b);
  Attrs at;
  at.trans_a = trans_a;
  at.trans_b = trans_b;
  return apply(op_matmul, {a, b}, at);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (a.defined() && b.defined() && a.rank() > 2 && b.rank() == 2) {
    // [..., m, k] @ [k, n]: one GEMM over the flattened leading dimensions.
    const Shape& s = a.shape();
    if (s[s.rank() - 1] != b.size(0))
      throw std::invalid_argument("matmul: shapes " + s.str() + " and " + b.shape().str() +
                                  " are incompatible: inner dimensions " +
                                  std::to_string(s[s.rank() - 1]) + " and " +
                                  std::to_string(b.size(0)) + " differ");
    Shape out_shape;
    for (int d = 0; d < s.rank() - 1; ++d) out_shape.push_back(s[d]);
    out_shape.push_back(b.size(1));
    // (The leading extents' product, not numel / k: k may be 0.)
    return reshape(
        matmul(reshape(a, Shape{s.numel(0, s.rank() - 1), s[s.rank() - 1]}), b, false, false),
        out_shape);
  }
  return matmul(a, b, false, false);
}

}  // namespace flowtape
