// SPDX-License-Identifier: MIT
// The op table, part 2: reductions along one axis (sum, max, logsumexp) and softmax.
// Rules receive the attrs with the axis already normalised to [0, rank).
#include <stdexcept>

#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/op_list.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/rules.hpp"
#include "flowtape/runtime/backend.hpp"

namespace flowtape {
namespace {

Shape reduced_shape(Inputs in, const Attrs& a) { return in[0].shape().reduced(a.axis, a.keepdims); }

// The reduced tensor t viewed with the axis kept as extent 1, so it broadcasts against x.
Tensor kept(const Tensor& t, const Saved& s) {
  return s.attrs.keepdims ? t : reshape(t, s.in[0].shape().reduced(s.attrs.axis, true));
}

template <ReduceOp C>
void reduce_forward(Inputs in, const Attrs& a, Outputs out) {
  backend_of(out[0]).reduce(C, in[0], a.axis, out[0]);
}

}  // namespace

const OpDef op_sum{
    "sum", reduced_shape,
    reduce_forward<ReduceOp::sum>,
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) {
      out[0] = broadcast_to(kept(g[0], s), s.in[0].shape());
    }};

namespace {

// The gradient goes to the maxima, split equally between ties (like PyTorch's amax).
Tensor max_share(const Saved& s) {
  const Tensor hit = to_dtype(equal(s.in[0], kept(s.out[0], s)), s.in[0].dtype());
  return div(hit, sum(hit, s.attrs.axis, true));
}

// max has no identity, so an empty axis is refused where every reduction's shape is checked.
Shape max_shape(Inputs in, const Attrs& a) {
  if (in[0].shape()[a.axis] == 0)
    throw std::invalid_argument("max: axis " + std::to_string(a.axis) + " of " + in[0].str() +
                                " is empty, and max has no identity");
  return reduced_shape(in, a);
}

}  // namespace

const OpDef op_max{
    "max", max_shape,
    reduce_forward<ReduceOp::max>,
    [](const Saved& s, Inputs t) -> TensorList {
      return sum(mul(max_share(s), t[0]), s.attrs.axis, s.attrs.keepdims);
    },
    [](const Saved& s, Inputs g, Grads& out) { out[0] = mul(max_share(s), kept(g[0], s)); }};

namespace {

// d logsumexp = softmax . dx
Tensor lse_softmax(const Saved& s) {
  return exp(sub(s.in[0], kept(s.out[0], s)));
}

}  // namespace

const OpDef op_logsumexp{
    "logsumexp", reduced_shape,
    reduce_forward<ReduceOp::logsumexp>,
    [](const Saved& s, Inputs t) -> TensorList {
      return sum(mul(lse_softmax(s), t[0]), s.attrs.axis, s.attrs.keepdims);
    },
    [](const Saved& s, Inputs g, Grads& out) { out[0] = mul(lse_softmax(s), kept(g[0], s)); }};

namespace {

// y = softmax(x): dy = y * (dx - <y, dx>), and the VJP has the same form with g for dx.
Tensor softmax_apply(const Saved& s, const Tensor& v) {
  return mul(s.out[0], sub(v, sum(mul(s.out[0], v), s.attrs.axis, true)));
}

}  // namespace

const OpDef op_softmax{
    "softmax", rules::same_shape,
    reduce_forward<ReduceOp::softmax>,
    [](const Saved& s, Inputs t) -> TensorList { return softmax_apply(s, t[0]); },
    [](const Saved& s, Inputs g, Grads& out) { out[0] = softmax_apply(s, g[0]); }};

namespace {

Tensor reduce(const OpDef& op, const Tensor& x, int axis, bool keepdims) {
  if (!x.defined()) throw std::invalid_argument(std::string(op.name) + ": undefined input");
  Attrs a;
  a.axis = normalize_axis(axis, x.shape(), op.name);
  a.keepdims = keepdims;
  return apply(op, {x}, a);
}

}  // namespace

Tensor sum(const Tensor& x, int axis, bool keepdims) { return reduce(op_sum, x, axis, keepdims); }
Tensor max(const Tensor& x, int axis, bool keepdims) { return reduce(op_max, x, axis, keepdims); }
Tensor logsumexp(const Tensor& x, int axis, bool keepdims) {
  return reduce(op_logsumexp, x, axis, keepdims);
}
Tensor softmax(const Tensor& x, int axis) { return reduce(op_softmax, x, axis, true); }

Tensor sum(const Tensor& x) { return sum(reshape(x, Shape{x.numel()}), 0, false); }

Tensor mean(const Tensor& x) {
  if (x.numel() == 0) throw std::invalid_argument("mean: tensor " + x.str() + " has no elements");
  return sum(x) * (1.0 / static_cast<double>(x.numel()));
}

Tensor mean(const Tensor& x, int axis, bool keepdims) {
  const std::int64_t n = x.size(axis);
  if (n == 0) throw std::invalid_argument("mean: axis " + std::to_string(axis) + " of " + x.str() + " is empty");
  return sum(x, axis, keepdims) * (1.0 / static_cast<double>(n));
}

}  // namespace flowtape
