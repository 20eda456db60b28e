// SPDX-License-Identifier: MIT
// Reductions along one axis of a contiguous buffer viewed as [outer, len, inner]: sum, max,
// and the numerically stable log-sum-exp and softmax.
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

}  // namespace flowtape::kernels::cpu
