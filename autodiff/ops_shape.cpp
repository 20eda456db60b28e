// SPDX-License-Identifier: MIT
// The op table, part 4: shape and data-movement primitives. They come in adjoint pairs, and
// each one's VJP is its partner: reshape/reshape, broadcast_to/sum_to, permute/permute by the
// inverse, slice/pad, concat/slices.
#include <algorithm>
#include <array>
#include <numeric>
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/cuda_backend.hpp"
#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/op_list.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/rules.hpp"
#include "flowtape/kernels/cpu/elementwise.hpp"
#include "flowtape/kernels/cpu/layout.hpp"
#include "flowtape/kernels/cpu/reduce.hpp"

namespace flowtape {
namespace {

namespace cpu = kernels::cpu;

std::int64_t prod(const Shape& s, int from, int to) {
  std::int64_t p = 1;
  for (int d = from; d < to; ++d) p *= s[d];
  return p;
}

}  // namespace

const OpDef op_reshape{
    "reshape",
    [](Inputs, const Attrs& a) { return a.shape; },
    [](Inputs in, const Attrs&, Outputs out) { out[0].impl()->storage = in[0].impl()->storage; },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) { out[0] = reshape(g[0], s.in[0].shape()); },
    /*aliases_input=*/true};

namespace {

struct Copy {
  template <class B> B operator()(const B& x) const { return x; }
};

}  // namespace

const OpDef op_broadcast_to{
    "broadcast_to", [](Inputs, const Attrs& a) { return a.shape; },
    [](Inputs in, const Attrs&, Outputs out) {
      if (out[0].device() == Device::cuda)
        return cuda_backend::nary(cuda_backend::Nary::copy, in, out[0]);
      dispatch(out[0].dtype(), [&]<class T>() {
        cpu::map_broadcast<T, 1>({in[0].data<T>()}, {in[0].shape().data()}, {in[0].rank()},
                                 out[0].mutable_data<T>(), out[0].shape().data(), out[0].rank(),
                                 Copy{});
      });
    },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) { out[0] = sum_to(g[0], s.in[0].shape()); }};

namespace {

// Sums x over its leading extra axes and over the axes where the target has extent 1.
template <class T>
void sum_to_kernel(const Tensor& x, const Shape& target, T* y) {
  const Shape& xs = x.shape();
  const int lead = xs.rank() - target.rank();
  std::vector<T> cur(x.data<T>(), x.data<T>() + x.numel()), next;
  Shape cur_shape;
  for (int d = lead; d < xs.rank(); ++d) cur_shape.push_back(xs[d]);
  if (lead > 0) {
    next.resize(static_cast<std::size_t>(cur_shape.numel()));
    cpu::sum_axis<T>(cur.data(), next.data(), {1, prod(xs, 0, lead), cur_shape.numel()});
    cur.swap(next);
  }
  for (int d = 0; d < target.rank(); ++d) {
    if (target[d] != 1 || cur_shape[d] == 1) continue;
    const Shape reduced = cur_shape.reduced(d, true);
    next.resize(static_cast<std::size_t>(reduced.numel()));
    cpu::sum_axis<T>(cur.data(), next.data(),
                     {prod(cur_shape, 0, d), cur_shape[d], prod(cur_shape, d + 1, cur_shape.rank())});
    cur.swap(next);
    cur_shape = reduced;
  }
  std::copy(cur.begin(), cur.end(), y);
}

}  // namespace

const OpDef op_sum_to{
    "sum_to", [](Inputs, const Attrs& a) { return a.shape; },
    [](Inputs in, const Attrs& a, Outputs out) {
      if (out[0].device() == Device::cuda) return cuda_backend::sum_to(in[0], out[0]);
      dispatch(out[0].dtype(),
               [&]<class T>() { sum_to_kernel<T>(in[0], a.shape, out[0].mutable_data<T>()); });
    },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) { out[0] = broadcast_to(g[0], s.in[0].shape()); }};

namespace {

Shape inverse_perm(const Shape& p) {
  Shape inv = p;
  for (int d = 0; d < p.rank(); ++d) inv[static_cast<int>(p[d])] = d;
  return inv;
}

}  // namespace

const OpDef op_permute{
    "permute",
    [](Inputs in, const Attrs& a) {
      Shape out;
      for (int d = 0; d < a.perm.rank(); ++d)
        out.push_back(in[0].shape()[static_cast<int>(a.perm[d])]);
      return out;
    },
    [](Inputs in, const Attrs& a, Outputs out) {
      if (out[0].device() == Device::cuda)
        return cuda_backend::permute(in[0], a.perm.span(), out[0]);
      cpu::permute(in[0].raw_data(), out[0].mutable_raw_data(), dtype_size(out[0].dtype()),
                   in[0].shape().span(), a.perm.span());
    },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) {
      out[0] = permute(g[0], inverse_perm(s.attrs.perm));
    }};

const OpDef op_slice{
    "slice",
    [](Inputs in, const Attrs& a) {
      Shape s = in[0].shape();
      s[a.axis] = a.count;
      return s;
    },
    [](Inputs in, const Attrs& a, Outputs out) {
      const Shape& s = in[0].shape();
      if (out[0].device() == Device::cuda)
        return cuda_backend::slice_axis(in[0], out[0], prod(s, 0, a.axis), s[a.axis],
                                        prod(s, a.axis + 1, s.rank()), a.start,
                                        a.count);
      cpu::slice_axis(in[0].raw_data(), out[0].mutable_raw_data(),
                      dtype_size(out[0].dtype()), prod(s, 0, a.axis), s[a.axis],
                      prod(s, a.axis + 1, s.rank()), a.start, a.count);
    },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) {
      out[0] = pad(g[0], s.attrs.axis, s.attrs.start, s.in[0].size(s.attrs.axis));
    }};

const OpDef op_pad{
    "pad",
    [](Inputs in, const Attrs& a) {
      Shape s = in[0].shape();
      s[a.axis] = a.length;
      return s;
    },
    [](Inputs in, const Attrs& a, Outputs out) {
      const Shape& s = out[0].shape();
      if (out[0].device() == Device::cuda)
        return cuda_backend::pad_axis(in[0], out[0], prod(s, 0, a.axis), a.length,
                                      prod(s, a.axis + 1, s.rank()), a.start, in[0].size(a.axis));
      cpu::pad_axis(in[0].raw_data(), out[0].mutable_raw_data(), dtype_size(out[0].dtype()),
                    prod(s, 0, a.axis), a.length, prod(s, a.axis + 1, s.rank()), a.start,
                    in[0].size(a.axis));
    },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) {
      out[0] = slice(g[0], s.attrs.axis, s.attrs.start, s.attrs.start + s.in[0].size(s.attrs.axis));
    }};

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
        s[a.axis] += x.size(a.axis);
      }
      return s;
    },
    [](Inputs in, const Attrs& a, Outputs out) {
      const Shape& s = out[0].shape();
      // Fills the parts' pointers and lengths into the buffers given, then copies.
      const auto run = [&](std::span<const void*> parts, std::span<std::int64_t> lens) {
        for (std::size_t i = 0; i < in.size(); ++i) {
          parts[i] = in[i].raw_data();
          lens[i] = in[i].size(a.axis);
        }
        if (out[0].device() == Device::cuda)
          return cuda_backend::concat_axis(in, lens, out[0], prod(s, 0, a.axis),
                                           prod(s, a.axis + 1, s.rank()));
        cpu::concat_axis(parts, lens, out[0].mutable_raw_data(), dtype_size(out[0].dtype()),
                         prod(s, 0, a.axis), prod(s, a.axis + 1, s.rank()));
      };
      // On the stack for up to TensorList::kInline parts (the usual two or three), so the op
      // makes no heap call.
      const std::size_t n = in.size();
      if (n <= TensorList::kInline) {
        std::array<const void*, TensorList::kInline> parts{};
        std::array<std::int64_t, TensorList::kInline> lens{};
        return run({parts.data(), n}, {lens.data(), n});
      }
      std::vector<const void*> parts(n);
      std::vector<std::int64_t> lens(n);
      run(parts, lens);
    },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) {
      std::int64_t start = 0;
      for (std::size_t i = 0; i < s.in.size(); ++i) {
        const std::int64_t len = s.in[i].size(s.attrs.axis);
        if (out.wants(i)) out[i] = slice(g[0], s.attrs.axis, start, start + len);
        start += len;
      }
    }};

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
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (d[i] == -1 && infer < 0)
      infer = static_cast<int>(i);
    else
      known *= d[i];
  }
  if (infer >= 0) {
    if (known <= 0 || x.numel() % known != 0) {
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
  if (shape.numel() != x.numel())
    throw std::invalid_argument("reshape: cannot view " + x.shape().str() + " (" +
                                std::to_string(x.numel()) + " elements) as " + shape.str());
  if (shape == x.shape()) return x;
  Attrs a;
  a.shape = shape;
  return apply(op_reshape, {x}, a);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  if (x.rank() > shape.rank() || !(broadcast_shapes(x.shape(), shape, "broadcast_to") == shape))
    throw std::invalid_argument("broadcast_to: cannot broadcast " + x.shape().str() + " to " + shape.str());
  Attrs a;
  a.shape = shape;
  return apply(op_broadcast_to, {x}, a);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  bool ok = shape.rank() <= x.rank();
  for (int d = 0; ok && d < shape.rank(); ++d) {
    const std::int64_t xd = x.shape()[d + x.rank() - shape.rank()];
    ok = shape[d] == xd || shape[d] == 1;
  }
  if (!ok)
    throw std::invalid_argument("sum_to: " + shape.str() + " does not broadcast to " + x.shape().str());
  Attrs a;
  a.shape = shape;
  return apply(op_sum_to, {x}, a);
}

Tensor permute(const Tensor& x, const Shape& perm) {
  bool ok = perm.rank() == x.rank();
  std::vector<bool> seen(static_cast<std::size_t>(x.rank()), false);
  for (int d = 0; ok && d < perm.rank(); ++d) {
    ok = perm[d] >= 0 && perm[d] < x.rank() && !seen[static_cast<std::size_t>(perm[d])];
    if (ok) seen[static_cast<std::size_t>(perm[d])] = true;
  }
  if (!ok)
    throw std::invalid_argument("permute: " + perm.str() + " is not a permutation of the axes of " +
                                x.shape().str());
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
  if (start < 0 || start + x.size(a.axis) > length)
    throw std::invalid_argument("pad: " + x.shape().str() + " placed at " + std::to_string(start) +
                                " does not fit in length " + std::to_string(length));
  if (length == x.size(a.axis)) return x;
  a.start = start;
  a.length = length;
  return apply(op_pad, {x}, a);
}

Tensor concat(const TensorList& xs, int axis) {
  if (xs.empty()) throw std::invalid_argument("concat: no tensors to concatenate");
  if (xs.size() == 1) return xs[0];
  Attrs a;
  a.axis = normalize_axis(axis, xs[0].shape(), "concat");
  return apply(op_concat, xs, a);
}

}  // namespace flowtape
