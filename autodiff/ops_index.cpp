// SPDX-License-Identifier: MIT
// The op table, part 6: integer indexing along one axis. gather reads x at an i64 index, and
// scatter_add, its adjoint, adds into zeros at the index; each one's VJP is the other. Both
// are linear in their data input, so each JVP is the op itself on the tangent. The index gets
// no derivative (an i64 tensor never has one).
#include <cstdint>
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/op_list.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/rules.hpp"
#include "flowtape/runtime/backend.hpp"

namespace flowtape {
namespace {

// x (gather) or the result (scatter_add) is `wide`, with extent len along the axis; the other
// side is `narrow`, with extent k; the index is 1-D (shared by every position) or narrow's
// shape.
IndexView index_view(const Shape& wide, const Shape& narrow, const Tensor& index, int axis) {
  IndexView v;
  v.outer = wide.numel(0, axis);
  v.len = wide[axis];
  v.k = narrow[axis];
  v.inner = wide.numel(axis + 1, wide.rank());
  v.shared = index.rank() == 1;
  return v;
}

// The extent of the narrow side along the axis, after checking the index's shape against the
// data's, which has the narrow side's extents off the axis.
std::int64_t indexed_extent(const Shape& data, const Tensor& index, int axis, const char* name) {
  const Shape& s = index.shape();
  if (s.rank() == 1) return s[0];
  bool ok = s.rank() == data.rank();
  for (int d = 0; ok && d < s.rank(); ++d) ok = d == axis || s[d] == data[d];
  if (!ok)
    throw std::invalid_argument(std::string(name) + ": index of shape " + s.str() +
                                " is neither 1-D nor of the data's shape " + data.str() +
                                " off axis " + std::to_string(axis));
  return s[axis];
}

// Every index lies in [0, len); read on the host (one copy from a device).
void check_indices(const Tensor& index, std::int64_t len, const char* name) {
  const Tensor host = to_host(index);
  const std::int64_t* p = host.data<std::int64_t>();
  const std::int64_t n = host.numel();  // an out-of-line call: not evaluated per element
  for (std::int64_t i = 0; i < n; ++i)
    if (p[i] < 0 || p[i] >= len)
      throw std::out_of_range(std::string(name) + ": index " + std::to_string(p[i]) + " (element " +
                              std::to_string(i) + " of the index) is outside [0, " +
                              std::to_string(len) + ")");
}

Tensor gather_op(const Tensor& x, const Tensor& index, int axis);
Tensor scatter_add_op(const Tensor& src, const Tensor& index, int axis, std::int64_t length);

}  // namespace

// gather(x, index) along attrs.axis: [outer, len, inner] -> [outer, k, inner].
const OpDef op_gather{
    "gather",
    [](Inputs in, const Attrs& a) {
      Shape out = in[0].shape();
      out[a.axis] = indexed_extent(in[0].shape(), in[1], a.axis, "gather");
      return out;
    },
    [](Inputs in, const Attrs& a, Outputs out) {
      check_indices(in[1], in[0].size(a.axis), "gather");
      backend_of(out[0]).gather(in[0], in[1],
                                index_view(in[0].shape(), out[0].shape(), in[1], a.axis), out[0]);
    },
    [](const Saved& s, Inputs t) -> TensorList {
      return t[0].defined() ? gather_op(t[0], s.in[1], s.attrs.axis) : Tensor();
    },
    [](const Saved& s, Inputs g, Grads& out) {
      out[0] = scatter_add_op(g[0], s.in[1], s.attrs.axis, s.in[0].size(s.attrs.axis));
    },
    rules::data_and_index};

// scatter_add(src, index) along attrs.axis into zeros of extent attrs.length.
const OpDef op_scatter_add{
    "scatter_add",
    [](Inputs in, const Attrs& a) {
      if (indexed_extent(in[0].shape(), in[1], a.axis, "scatter_add") != in[0].size(a.axis))
        throw std::invalid_argument("scatter_add: index of shape " + in[1].shape().str() +
                                    " does not match src " + in[0].shape().str() + " along axis " +
                                    std::to_string(a.axis));
      Shape out = in[0].shape();
      out[a.axis] = a.length;
      return out;
    },
    [](Inputs in, const Attrs& a, Outputs out) {
      check_indices(in[1], a.length, "scatter_add");
      backend_of(out[0]).scatter_add(
          in[0], in[1], index_view(out[0].shape(), in[0].shape(), in[1], a.axis), out[0]);
    },
    [](const Saved& s, Inputs t) -> TensorList {
      return t[0].defined() ? scatter_add_op(t[0], s.in[1], s.attrs.axis, s.attrs.length)
                            : Tensor();
    },
    [](const Saved& s, Inputs g, Grads& out) { out[0] = gather_op(g[0], s.in[1], s.attrs.axis); },
    rules::data_and_index};

namespace {

Tensor gather_op(const Tensor& x, const Tensor& index, int axis) {
  Attrs a;
  a.axis = axis;
  return apply(op_gather, {x, index}, a);
}
Tensor scatter_add_op(const Tensor& src, const Tensor& index, int axis, std::int64_t length) {
  Attrs a;
  a.axis = axis;
  a.length = length;
  return apply(op_scatter_add, {src, index}, a);
}

void require_defined(const Tensor& x, const Tensor& index, const char* name) {
  if (!x.defined() || !index.defined())
    throw std::invalid_argument(std::string(name) + ": undefined input");
}

}  // namespace

Tensor index_select(const Tensor& x, int axis, const Tensor& indices) {
  require_defined(x, indices, "index_select");
  if (indices.rank() != 1)
    throw std::invalid_argument("index_select: indices must be 1-D, got " + indices.str());
  return gather_op(x, indices, normalize_axis(axis, x.shape(), "index_select"));
}

Tensor gather(const Tensor& x, int axis, const Tensor& index) {
  require_defined(x, index, "gather");
  if (index.rank() != x.rank())
    throw std::invalid_argument("gather: index " + index.str() + " must have x's rank (x is " +
                                x.str() + "; index_select takes 1-D indices)");
  return gather_op(x, index, normalize_axis(axis, x.shape(), "gather"));
}

Tensor scatter_add(const Tensor& src, int axis, const Tensor& index, std::int64_t length) {
  require_defined(src, index, "scatter_add");
  if (length < 0)
    throw std::invalid_argument("scatter_add: negative length " + std::to_string(length));
  if (index.rank() != 1 && index.rank() != src.rank())
    throw std::invalid_argument("scatter_add: index " + index.str() +
                                " must be 1-D or have src's rank (src is " + src.str() + ")");
  return scatter_add_op(src, index, normalize_axis(axis, src.shape(), "scatter_add"), length);
}

}  // namespace flowtape
