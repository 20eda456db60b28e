// SPDX-License-Identifier: MIT
// Composite ops: written with primitives only, so they need no rules of their own (their
// derivatives, in every mode, are those of the primitives they call).
//   min                  -max(-x): negation is exact, and ties share the gradient as in max
//   argmax, argmin       the first index of the extreme along an axis (i64), from max and equal
//   maximum, minimum     elementwise, from where and the comparisons; ties share the gradient
//   clamp                where(x < lo, lo, where(x > hi, hi, x))
//   squeeze, unsqueeze   reshapes that drop or add an axis of extent 1
//   sum, mean over axes  one primitive sum per axis, from the last axis to the first
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/verbs.hpp"

namespace flowtape {

namespace {

// The distinct axes of `axes`, normalised and sorted from the last to the first.
std::vector<int> distinct_axes(const std::vector<int>& axes, const Shape& shape, const char* op) {
  std::vector<int> out;
  for (int a : axes) out.push_back(normalize_axis(a, shape, op));
  std::sort(out.begin(), out.end(), std::greater<int>());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    throw std::invalid_argument(std::string(op) +
                                ": an axis is named twice for a tensor of shape " + shape.str());
  return out;
}

// One primitive sum per axis of `sorted` (from distinct_axes: last first, so that removing an
// axis never renumbers the ones still to come).
Tensor sum_over(const Tensor& x, const std::vector<int>& sorted, bool keepdims) {
  Tensor y = x;
  for (int a : sorted) y = sum(y, a, keepdims);
  return y;
}

}  // namespace

Tensor min(const Tensor& x, int axis, bool keepdims) {
  return -max(-x, axis, keepdims);
}

// The first index along `axis` where x equals its maximum: the index where that holds, the
// axis's length elsewhere, and the least of those (-max(-i)). A slice holding a NaN gives its
// first NaN's index, as NumPy and PyTorch do (its maximum, NaN, equals nothing). Computed from
// constants, so it carries no derivative.
Tensor argmax(const Tensor& x, int axis, bool keepdims) {
  if (!x.defined()) throw std::invalid_argument("argmax: undefined input");
  const Tensor v = stop_gradient(x);
  const int a = normalize_axis(axis, v.shape(), "argmax");
  const std::int64_t n = v.shape()[a];
  const Tensor hit = equal(v, max(v, a, true));  // max refuses an empty axis
  Shape index_shape(std::vector<std::int64_t>(static_cast<std::size_t>(v.rank()), 1));
  index_shape[a] = n;
  // The positions of the maxima, n elsewhere, then their least: in x's dtype, but in f64 for
  // an f32 axis longer than 2^24, where f32 positions would round (f64's are exact for any
  // axis a tensor can have).
  const DType position_type =
      v.dtype() == DType::f32 && n > (std::int64_t{1} << 24) ? DType::f64 : v.dtype();
  const Tensor index = reshape(arange(n, position_type), index_shape).to(v.device());
  const Tensor miss = full_like(index, static_cast<double>(n));
  const Tensor first_max = -max(-where(hit, index, miss), a, keepdims);
  const Tensor first_nan = -max(-where(equal(v, v), miss, index), a, keepdims);
  const Tensor has_nan = less(first_nan, scalar_like(first_nan, static_cast<double>(n)));
  return to_dtype(where(has_nan, first_nan, first_max), DType::i64);
}

Tensor argmin(const Tensor& x, int axis, bool keepdims) {
  if (!x.defined()) throw std::invalid_argument("argmin: undefined input");
  return argmax(-stop_gradient(x), axis, keepdims);
}

// Where a > b the value and gradient are a's, where a < b b's; at a tie the value is a (as
// 0.5 a + 0.5 b, which equals it but for a tie of two subnormals, which rounds) and the
// gradient is shared, half to each, as PyTorch does. A NaN in either operand gives NaN.
Tensor maximum(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) throw std::invalid_argument("maximum: undefined input");
  return where(greater(a, b), a, where(less(a, b), b, a * 0.5 + b * 0.5));
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) throw std::invalid_argument("minimum: undefined input");
  return -maximum(-a, -b);
}

// The bounds are constants; inside [lo, hi], bounds included, the derivative is 1.
Tensor clamp(const Tensor& x, double lo, double hi) {
  if (!x.defined()) throw std::invalid_argument("clamp: undefined input");
  if (!(lo <= hi))
    throw std::invalid_argument("clamp: need lo <= hi, got [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "]");
  const Tensor low = scalar_like(x, lo), high = scalar_like(x, hi);
  return where(less(x, low), low, where(greater(x, high), high, x));
}

Tensor squeeze(const Tensor& x, int axis) {
  const int a = normalize_axis(axis, x.shape(), "squeeze");
  if (x.shape()[a] != 1)
    throw std::invalid_argument("squeeze: axis " + std::to_string(axis) + " of " + x.str() +
                                " has extent " + std::to_string(x.shape()[a]) + ", not 1");
  return reshape(x, x.shape().reduced(a, false));
}

Tensor unsqueeze(const Tensor& x, int axis) {
  const int rank = x.rank();
  if (axis < -(rank + 1) || axis > rank)
    throw std::invalid_argument("unsqueeze: axis " + std::to_string(axis) +
                                " is out of range for " + x.str() + " (the new axis goes in [" +
                                std::to_string(-(rank + 1)) + ", " + std::to_string(rank) + "])");
  const int a = axis < 0 ? axis + rank + 1 : axis;
  Shape shape;
  for (int d = 0; d < rank; ++d) {
    if (d == a) shape.push_back(1);
    shape.push_back(x.shape()[d]);
  }
  if (a == rank) shape.push_back(1);
  return reshape(x, shape);
}

Tensor sum(const Tensor& x, const std::vector<int>& axes, bool keepdims) {
  if (!x.defined()) throw std::invalid_argument("sum: undefined input");
  return sum_over(x, distinct_axes(axes, x.shape(), "sum"), keepdims);
}

Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdims) {
  if (!x.defined()) throw std::invalid_argument("mean: undefined input");
  const std::vector<int> sorted = distinct_axes(axes, x.shape(), "mean");
  std::int64_t n = 1;
  for (int a : sorted) n *= x.shape()[a];
  if (n == 0) throw std::invalid_argument("mean: the axes of " + x.str() + " hold no elements");
  return sum_over(x, sorted, keepdims) * (1.0 / static_cast<double>(n));
}

}  // namespace flowtape
