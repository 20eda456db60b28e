// SPDX-License-Identifier: MIT
// Reductions along one axis of a contiguous buffer viewed as [outer, len, inner]: sum, max,
// and the numerically stable log-sum-exp and softmax; and a whole buffer's sum of squares.
#pragma once

#include <cstdint>

namespace flowtape::kernels::cpu {

struct AxisView {
  std::int64_t outer = 1;  // product of the dimensions before the axis
  std::int64_t len = 1;    // the reduced dimension
  std::int64_t inner = 1;  // product of the dimensions after the axis
};

// y[outer, inner] = sum_k x[outer, k, inner]
template <class T>
void sum_axis(const T* x, T* y, AxisView v);

// y[outer, inner] = max_k x[outer, k, inner] (NaN propagates)
template <class T>
void max_axis(const T* x, T* y, AxisView v);

// y[outer, inner] = log sum_k exp x[outer, k, inner], shifted by the maximum so it never
// overflows; an all -inf slice gives -inf.
template <class T>
void logsumexp_axis(const T* x, T* y, AxisView v);

// y[outer, k, inner] = exp(x - logsumexp over k)
template <class T>
void softmax_axis(const T* x, T* y, AxisView v);

// sum_i x[i]^2 over x[0, n), in f64 whatever T is (the squares of f32 values above ~1.8e19
// overflow f32 while the values are finite). Element i goes to running sum i % 16, and the 16
// are added in a fixed tree at the end, so the result depends on the values and n only, not
// on the vector width or the thread count.
template <class T>
double sum_of_squares(const T* x, std::int64_t n);

}  // namespace flowtape::kernels::cpu
