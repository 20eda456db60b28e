// SPDX-License-Identifier: MIT
// The op table, part 4: shape and data-movement primitives. They come in adjoint pairs, and
// each one's VJP is its partner: reshape/reshape, broadcast_to/sum_to, permute/permute by the
// inverse, slice/pad, concat/slices.
#include <algorithm>
#include <array>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "flowtape/autodiff/elementwise_forward.hpp"
#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/op_list.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/rules.hpp"
#include "flowtape/runtime/backend.hpp"

namespace flowtape {
namespace {

// The checks of each op's arguments, run by its shape rule (so that apply() with any Attrs
// refuses what the wrapper functions below refuse) and by the wrappers before their shortcuts.
void check_reshape(const Tensor& x, const Shape& shape) {
  bool ok = true;
  for (int d = 0; d < shape.rank(); ++d) ok = ok && shape[d] >= 0;
  if (!ok || shape.numel() != x.numel())
    throw std::invalid_argument("reshape: cannot view " + x.shape().str() + " (" +
                                std::to_string(x.numel()) + " elements) as " + shape.str());
}

void check_broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.rank() > shape.rank() || !(broadcast_shapes(x.shape(), shape, "broadcast_to") == shape))
    throw std::invalid_argument("broadcast_to: cannot broadcast " + x.shape().str() + " to " +
                                shape.str());
}

void check_sum_to(const Tensor& x, const Shape& shape) {
  bool ok = shape.rank() <= x.rank();
  for (int d = 0; ok && d < shape.rank(); ++d) {
    const std::int64_t xd = x.shape()[d + x.rank() - shape.rank()];
    ok = shape[d] == xd || shape[d] == 1;
  }
  if (!ok)
    throw std::invalid_argument("sum_to: " + shape.str() + " does not broadcast to " +
                                x.shape().str());
}

void check_permute(const Tensor& x, const Shape& perm) {
  bool ok = perm.rank() == x.rank();
  std::array<bool, Shape::kMaxRank> seen{};
  for (int d = 0; ok && d < perm.rank(); ++d) {
    ok = perm[d] >= 0 && perm[d] < x.rank() && !seen[static_cast<std::size_t>(perm[d])];
    if (ok) seen[static_cast<std::size_t>(perm[d])] = true;
  }
  if (!ok)
    throw std::invalid_argument("permute: " + perm.str() + " is not a permutation of the axes of " +
                                x.shape().str());
}

// [start, start + count) inside an axis of length len, without overflow.
bool fits(std::int64_t start, std::int64_t count, std::int64_t len) {
  return start >= 0 && count >= 0 && count <= len && start <= len - count;
}

void check_slice(const Tensor& x, int axis, std::int64_t start, std::int64_t count) {
  if (!fits(start, count, x.size(axis)))
    throw std::invalid_argument("slice: " + std::to_string(count) + " elements from " +
                                std::to_string(start) + " are not inside axis " +
                                std::to_string(axis) + " of " + x.shape().str());
}

void check_pad(const Tensor& x, int axis, std::int64_t start, std::int64_t length) {
  if (!fits(start, x.size(axis), length))
    throw std::invalid_argument("pad: " + x.shape().str() + " placed at " + std::to_string(start) +
                                " does not fit in length " + std::to_string(length));
}

}  // namespace

const OpDef op_reshape{
    "reshape",
    [](Inputs in, const Attrs& a) {
      check_reshape(in[0], a.shape);
      return a.shape;
    },
    [](Inputs in, const Attrs&, Outputs out) { out[0].impl()->storage = in[0].impl()->storage; },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) { out[0] = reshape(g[0], s.in[0].shape()); },
    rules::any_dtype,
    /*aliases_input=*/true};

const OpDef op_broadcast_to{
    "broadcast_to",
    [](Inputs in, const Attrs& a) {
      check_broadcast_to(in[0], a.shape);
      return a.shape;
    },
    rules::nary_forward<NaryOp::copy>, rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) { out[0] = sum_to(g[0], s.in[0].shape()); }};

const OpDef op_sum_to{
    "sum_to",
    [](Inputs in, const Attrs& a) {
      check_sum_to(in[0], a.shape);
      return a.shape;
    },
    [](Inputs in, const Attrs&, Outputs out) { backend_of(out[0]).sum_to(in[0], out[0]); },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) { out[0] = broadcast_to(g[0], s.in[0].shape()); }};

namespace {

Shape inverse_perm(const Shape& p) {
  Shape inv = p;
  for (int d = 0; d < p.rank(); ++d) inv[static_cast<int>(p[d])] = d;
  return inv;
}

}  // namespace

const OpDef op_permute{"permute",
                       [](Inputs in, const Attrs& a) {
                         check_permute(in[0], a.perm);
                         Shape out;
                         for (int d = 0; d < a.perm.rank(); ++d)
                           out.push_back(in[0].shape()[static_cast<int>(a.perm[d])]);
                         return out;
                       },
                       [](Inputs in, const Attrs& a, Outputs out) {
                         backend_of(out[0]).permute(in[0], a.perm.span(), out[0]);
                       },
                       rules::linear_jvp,
                       [](const Saved& s, Inputs g, Grads& out) {
                         out[0] = permute(g[0], inverse_perm(s.attrs.perm));
                       },
                       rules::any_dtype};

const OpDef op_slice{
    "slice",
    [](Inputs in, const Attrs& a) {
      Shape s = in[0].shape();
      check_slice(in[0], a.axis, a.start, a.count);
      s[a.axis] = a.count;
      return s;
    },
    [](Inputs in, const Attrs& a, Outputs out) {
      const Shape& s = in[0].shape();
      backend_of(out[0]).slice_axis(in[0], out[0], s.numel(0, a.axis), s[a.axis],
                                    s.numel(a.axis + 1, s.rank()), a.start, a.count);
    },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) {
      out[0] = pad(g[0], s.attrs.axis, s.attrs.start, s.in[0].size(s.attrs.axis));
    },
    rules::any_dtype};

const OpDef op_pad{
    "pad",
    [](Inputs in, const Attrs& a) {
      Shape s = in[0].shape();
      check_pad(in[0], a.axis, a.start, a.length);
      s[a.axis] = a.length;
      return s;
    },
    [](Inputs in, const Attrs& a, Outputs out) {
      const Shape& s = out[0].shape();
      backend_of(out[0]).pad_axis(in[0], out[0], s.numel(0, a.axis), a.length,
                                  s.numel(a.axis + 1, s.rank()), a.start, in[0].size(a.axis));
    },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) {
      out[0] = slice(g[0], s.attrs.axis, s.attrs.start, s.attrs.start + s.in[0].size(s.attrs.axis));
    },
    rules::any_dtype};

const OpDef op_concat{
    "concat",
    [](Inputs in, const Attrs& a) {
      Shape s = in[0].shape();
      s[a.axis] = 0;
      for (const Tensor& x : in) {
        bool ok = x.rank() == s.rank();
        for (int d = 0; ok && d < s.rank(); ++d) ok = d == a.axis || x.shape()[d] == s[d];
        if (!ok)
          throw std::invalid_argument("concat: shapes " + in[0].shape().str() + " and " +
                                      x.shape().str() + " differ outside axis " + std::to_string(a.axis));
        if (__builtin_add_overflow(s[a.axis], x.size(a.axis), &s[a.axis]))
          throw std::length_error("concat: the lengths along axis " + std::to_string(a.axis) +
                                  " add up to more than 2^63");
      }
      return s;
    },
    [](Inputs in, const Attrs& a, Outputs out) {
      const Shape& s = out[0].shape();
      // The parts' lengths, on the stack for up to TensorList::kInline parts (the usual two or
      // three), so the op makes no heap call.
      const std::size_t n = in.size();
      std::array<std::int64_t, TensorList::kInline> stack{};
      std::vector<std::int64_t> heap(n > stack.size() ? n : 0);
      const std::span<std::int64_t> lens = heap.empty() ? std::span(stack.data(), n) : std::span(heap);
      for (std::size_t i = 0; i < n; ++i) lens[i] = in[i].size(a.axis);
      backend_of(out[0]).concat_axis(in, lens, out[0], s.numel(0, a.axis),
                                     s.numel(a.axis + 1, s.rank()));
    },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) {
      std::int64_t start = 0;
      for (std::size_t i = 0; i < s.in.size(); ++i) {
        const std::int64_t len = s.in[i].size(s.attrs.axis);
        if (out.wants(i)) out[i] = slice(g[0], s.attrs.axis, start, start + len);
        start += len;
      }
    },
    rules::any_dtype};

Tensor reshape(const Tensor& x, std::initializer_list<std::int64_t> dims) {
  if (dims.size() > static_cast<std::size_t>(Shape::kMaxRank))
    throw std::invalid_argument("reshape: flowtape supports tensors of rank at most " +
                                std::to_string(Shape::kMaxRank) + "; got " +
                                std::to_string(dims.size()) + " dimensions");
  std::array<std::int64_t, Shape::kMaxRank> storage{};  // on the stack: reshape is per step
  std::copy(dims.begin(), dims.end(), storage.begin());
  const std::span<std::int64_t> d(storage.data(), dims.size());
  int infer = -1;
  std::int64_t known = 1;
  bool overflow = false;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (d[i] == -1 && infer < 0)
      infer = static_cast<int>(i);
    else
      overflow = overflow || __builtin_mul_overflow(known, d[i], &known);
  }
  if (infer >= 0) {
    if (overflow || known <= 0 || x.numel() % known != 0) {
      std::string want = "[";
      for (std::size_t i = 0; i < d.size(); ++i) want += (i ? ", " : "") + std::to_string(d[i]);
      throw std::invalid_argument("reshape: cannot view " + x.shape().str() + " (" +
                                  std::to_string(x.numel()) + " elements) as " + want + "]");
    }
    d[static_cast<std::size_t>(infer)] = x.numel() / known;
  }
  return reshape(x, Shape(d));
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  if (shape == x.shape()) return x;  // (valid as it stands; op_reshape's rule checks the rest)
  Attrs a;
  a.shape = shape;
  return apply(op_reshape, {x}, a);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  Attrs a;
  a.shape = shape;
  return apply(op_broadcast_to, {x}, a);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  Attrs a;
  a.shape = shape;
  return apply(op_sum_to, {x}, a);
}

Tensor permute(const Tensor& x, const Shape& perm) {
  check_permute(x, perm);
  bool trivial = true;
  for (int d = 0; d < perm.rank(); ++d) trivial &= perm[d] == d;
  if (trivial) return x;
  Attrs a;
  a.perm = perm;
  return apply(op_permute, {x}, a);
}

Tensor transpose(const Tensor& x) {
  if (x.rank() < 2) throw std::invalid_argument("transpose: needs rank >= 2, got " + x.shape().str());
  Shape perm;
  for (int d = 0; d < x.rank(); ++d) perm.push_back(d);
  std::swap(perm[x.rank() - 1], perm[x.rank() - 2]);
  return permute(x, perm);
}

Tensor slice(const Tensor& x, int axis, std::int64_t start, std::int64_t stop) {
  Attrs a;
  a.axis = normalize_axis(axis, x.shape(), "slice");
  const std::int64_t len = x.size(a.axis);
  if (start < 0 || stop < start || stop > len)
    throw std::invalid_argument("slice: range [" + std::to_string(start) + ", " + std::to_string(stop) +
                                ") is not inside axis " + std::to_string(axis) + " of " + x.shape().str());
  if (start == 0 && stop == len) return x;
  a.start = start;
  a.count = stop - start;
  return apply(op_slice, {x}, a);
}

Tensor pad(const Tensor& x, int axis, std::int64_t start, std::int64_t length) {
  Attrs a;
  a.axis = normalize_axis(axis, x.shape(), "pad");
  check_pad(x, a.axis, start, length);
  if (length == x.size(a.axis)) return x;
  a.start = start;
  a.length = length;
  return apply(op_pad, {x}, a);
}

Tensor concat(const TensorList& xs, int axis) {
  if (xs.empty()) throw std::invalid_argument("concat: no tensors to concatenate");
  Attrs a;
  a.axis = normalize_axis(axis, xs[0].shape(), "concat");  // a bad axis is refused for one too
  if (xs.size() == 1) return xs[0];
  return apply(op_concat, xs, a);
}

}  // namespace flowtape
