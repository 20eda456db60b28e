// SPDX-License-Identifier: MIT
// Integer indexing along one axis of contiguous row-major buffers: gather and its adjoint,
// scatter_add. x is viewed as [outer, len, inner] and the result as [outer, k, inner]; the
// index is either [outer, k, inner] (one index per result element: NumPy's take_along_axis,
// PyTorch's gather) or, when `shared` is set, [k], the same for every outer and inner position
// (index_select). Indices must lie in [0, len); the caller has checked them.
#pragma once

#include <algorithm>
#include <cstdint>

namespace flowtape::kernels::cpu {

struct IndexView {
  std::int64_t outer = 1, len = 1, k = 1, inner = 1;
  bool shared = false;  // index is [k] rather than [outer, k, inner]
};

template <class T>
void gather_axis(const T* x, const std::int64_t* index, T* y, IndexView v) {
  for (std::int64_t o = 0; o < v.outer; ++o)
    for (std::int64_t j = 0; j < v.k; ++j) {
      const std::int64_t row = o * v.k + j;
      for (std::int64_t i = 0; i < v.inner; ++i) {
        const std::int64_t at = v.shared ? index[j] : index[row * v.inner + i];
        y[row * v.inner + i] = x[(o * v.len + at) * v.inner + i];
      }
    }
}

// y [outer, len, inner] = 0, then y at the index += src [outer, k, inner], in src's row-major
// order (so repeated indices always sum in the same order).
template <class T>
void scatter_add_axis(const T* src, const std::int64_t* index, T* y, IndexView v) {
  std::fill(y, y + v.outer * v.len * v.inner, T(0));
  for (std::int64_t o = 0; o < v.outer; ++o)
    for (std::int64_t j = 0; j < v.k; ++j) {
      const std::int64_t row = o * v.k + j;
      for (std::int64_t i = 0; i < v.inner; ++i) {
        const std::int64_t at = v.shared ? index[j] : index[row * v.inner + i];
        y[(o * v.len + at) * v.inner + i] += src[row * v.inner + i];
      }
    }
}

}  // namespace flowtape::kernels::cpu
