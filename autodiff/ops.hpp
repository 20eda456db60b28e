// SPDX-License-Identifier: MIT
// The differentiable operations on tensors. Each primitive here has exactly one definition
// (shape rule, forward, JVP rule, VJP rule) in ops_*.cpp; the composites (mean, transpose,
// the scalar overloads, ...) are written in terms of primitives and need no rules of their
// own. Binary ops broadcast like NumPy. Negative axes count from the end.
//
//   primitive          file                 derivative
//   add sub mul div    ops_elementwise.cpp  yes, with broadcasting
//   neg exp log sqrt square pow abs tanh sigmoid relu silu softplus sin cos     yes
//   silu_grad silu_grad2 (fused derivatives of silu), silu's fast paths  ops_silu.cpp  yes
//   where              ops_elementwise.cpp  yes (not w.r.t. the condition)
//   greater less equal sign                 none (piecewise constant)
//   sum max logsumexp softmax (one axis)    ops_reduce.cpp
//   matmul (2-D, batched 3-D, transposes; any batch rank on top), linear   ops_matmul.cpp
//   linear_silu (linear then silu as one op), silu_grad_column_sums  ops_layer.cpp
//   reshape broadcast_to sum_to permute concat slice pad identity   ops_shape.cpp
//   to_device                               ops_device.cpp
//   composites: min, argmax, argmin, maximum, minimum, clamp, squeeze, unsqueeze, sum and
//   mean over several axes   ops_composite.cpp
#pragma once

#include <vector>

#include "flowtape/kernels/unary_ops.hpp"
#include "flowtape/runtime/tensor.hpp"
#include "flowtape/runtime/tensor_list.hpp"

namespace flowtape {

// --- elementwise, broadcasting ----------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// cond ? a : b. cond is a boolean mask, or 0 / 1 in a and b's dtype; it gets no gradient.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// Comparisons, broadcasting: boolean masks (to_dtype(m, DType::f32) gives 0 / 1), with no
// derivative.
Tensor greater(const Tensor& a, const Tensor& b);  // a > b
Tensor less(const Tensor& a, const Tensor& b);
Tensor equal(const Tensor& a, const Tensor& b);
Tensor sign(const Tensor& x);  // -1, 0 or 1 (NaN at NaN), piecewise constant: no derivative
// Elementwise maximum and minimum, broadcasting; at a tie the gradient is shared half and
// half, and a NaN operand gives NaN.
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// x limited to [lo, hi]; derivative 1 inside, bounds included, and 0 outside.
Tensor clamp(const Tensor& x, double lo, double hi);

// --- elementwise, unary -----------------------------------------------------------------------
// neg exp log expm1 log1p sqrt square abs tanh sigmoid relu softplus sin cos: one declaration
// per row of the unary table, where each row says what its function does at the edges.
#define FLOWTAPE_DECLARE_UNARY(name, ...) Tensor name(const Tensor& x);
FLOWTAPE_UNARY_OPS(FLOWTAPE_DECLARE_UNARY)
#undef FLOWTAPE_DECLARE_UNARY
Tensor pow(const Tensor& x, double exponent);
Tensor silu(const Tensor& x);      // x * sigmoid(x), also called swish
Tensor identity(const Tensor& x);  // a recorded no-op (shares the buffer)
// g * silu'(x) and g * silu''(x), each one fused pass: silu's JVP and VJP rules (and their own
// rules) use them instead of a chain of ~7 elementwise ops per layer. Broadcasting.
// denominator (optional): 1 + e^-x for this very x, as silu's forward keeps it. It must be
// that value: on the CPU it replaces the exp (same result), on CUDA it is ignored. It is a
// cache, not a variable: the rules differentiate through x and give it no gradient.
Tensor silu_grad(const Tensor& x, const Tensor& g, const Tensor& denominator = Tensor());
Tensor silu_grad2(const Tensor& x, const Tensor& g, const Tensor& denominator = Tensor());

// --- reductions -------------------------------------------------------------------------------
// Over an empty axis (or tensor) a reduction gives its identity where it has one: sum 0,
// logsumexp -inf (softmax of an empty axis is empty). mean and max have none and refuse,
// naming the axis, as NumPy does.
Tensor sum(const Tensor& x);  // all elements, a rank-0 result
Tensor sum(const Tensor& x, int axis, bool keepdims = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int axis, bool keepdims = false);
// Maximum along an axis; its gradient is shared equally among tied maxima.
Tensor max(const Tensor& x, int axis, bool keepdims = false);
// Minimum along an axis (-max(-x)); ties share the gradient as in max.
Tensor min(const Tensor& x, int axis, bool keepdims = false);
// The first index of the maximum (minimum) along an axis, an i64 tensor. No derivative. A
// slice holding a NaN gives its first NaN's index (NumPy's and PyTorch's rule). (The index is found
// in x's dtype: exact for axes up to 2^24 long in f32, any length in f64.)
Tensor argmax(const Tensor& x, int axis, bool keepdims = false);
Tensor argmin(const Tensor& x, int axis, bool keepdims = false);
// Sums and means over several distinct axes at once (sum(x, {0, 2})).
Tensor sum(const Tensor& x, const std::vector<int>& axes, bool keepdims = false);
Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdims = false);
// log(sum(exp(x))) along an axis, shifted by the maximum so it never overflows.
Tensor logsumexp(const Tensor& x, int axis, bool keepdims = false);
Tensor softmax(const Tensor& x, int axis);

// --- linear algebra ---------------------------------------------------------------------------
// a [m, k] @ b [k, n] -> [m, n]; batches of any rank, a [..., m, k] @ b [..., k, n], whose
// leading axes broadcast as NumPy's do (a 2-D operand serves the whole batch).
Tensor matmul(const Tensor& a, const Tensor& b);
// op(a) @ op(b), op = transpose of the last two axes when the flag is set (no copy is made).
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);
// x [m, k] @ w [n, k]^T + b [n] -> [m, n]: a Linear layer as one op (one GEMM onto the bias).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);
// silu(linear(x, w, b)), an MLP's hidden layer, as one op on the CPU where it will be
// differentiated in reverse mode: the same bits, one tape node, and the backward pass sums the
// bias gradient in the pass that applies silu'. Elsewhere (inference, inside jvp, off the CPU)
// it runs the two ops.
Tensor linear_silu(const Tensor& x, const Tensor& w, const Tensor& b);
namespace detail {
// The fast-path primitives themselves, for the tests (ops_silu.cpp, ops_layer.cpp say what
// each computes); silu() and linear_silu() choose them.
TensorList linear_silu_op(const Tensor& x, const Tensor& w, const Tensor& b);  // y, z, d
TensorList silu_grad_column_sums(const Tensor& z, const Tensor& g, const Tensor& d);
TensorList silu_keeping_denominator(const Tensor& x);             // y, d
TensorList silu_with_tangent(const Tensor& x, const Tensor& tx);  // y, ty, d
TensorList silu_with_tangent_vjp(const Tensor& x, const Tensor& tx, const Tensor& gy,
                                 const Tensor& gty, const Tensor& d);  // gx, gtx
}  // namespace detail

// --- shape ------------------------------------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);  // shares the buffer
// The same, where one extent may be -1: it is inferred from the element count.
Tensor reshape(const Tensor& x, std::initializer_list<std::int64_t> dims);
// Drops an axis of extent 1; adds one at `axis` of the result (-1: last), both sharing the
// buffer like reshape.
Tensor squeeze(const Tensor& x, int axis);
Tensor unsqueeze(const Tensor& x, int axis);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor sum_to(const Tensor& x, const Shape& shape);  // the adjoint of broadcast_to
Tensor permute(const Tensor& x, const Shape& perm);  // output axis d is input axis perm[d]
Tensor transpose(const Tensor& x);                   // swaps the last two axes
Tensor concat(const TensorList& xs, int axis);       // from a braced list or a std::vector
Tensor slice(const Tensor& x, int axis, std::int64_t start, std::int64_t stop);  // [start, stop)
// Zeros of extent `length` along axis with x written from `start` (the adjoint of slice).
Tensor pad(const Tensor& x, int axis, std::int64_t start, std::int64_t length);

// --- integer indexing -------------------------------------------------------------------------
// Indices are i64 tensors on x's device, each in [0, extent of the axis) (a negative or too
// large index throws std::out_of_range, naming it; on cuda the indices are copied to the host
// for that check). Differentiable in x, not in the indices.
//
// index_select: x's slices along `axis` at the 1-D `indices`, in their order, repeats allowed;
// the result has x's shape with that axis's extent indices.size(0). x[indices] is
// index_select(x, 0, indices).
Tensor index_select(const Tensor& x, int axis, const Tensor& indices);
// gather (NumPy's take_along_axis): index has x's rank and x's extents off the axis;
// out[..., j, ...] = x[..., index[..., j, ...], ...] along `axis`, the result index's shape.
Tensor gather(const Tensor& x, int axis, const Tensor& index);
// The adjoint of both: zeros of src's shape with extent `length` along the axis, and src's
// elements added where the index points (repeated indices accumulate). The index is 1-D
// (index_select's) or src's shape (gather's).
Tensor scatter_add(const Tensor& src, int axis, const Tensor& index, std::int64_t length);

// --- devices ----------------------------------------------------------------------------------
// A copy on `device`; x itself when it is already there. Differentiable: the cotangent is
// copied back to x's device, the tangent moved along with the value.
Tensor to_device(const Tensor& x, Device device);

// --- operators --------------------------------------------------------------------------------
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

}  // namespace flowtape
