// SPDX-License-Identifier: MIT
// Integer indexing along one axis on device buffers: the same two functions, with the same
// views and meaning, as kernels/cpu/index.hpp. scatter_add accumulates with atomicAdd, so where
// indices repeat, the order of the sums (and so the last bits) may vary from run to run.
// Asynchronous on the stream; indices must already be checked to lie in [0, len).
#pragma once

#include <cstdint>

#include "flowtape/kernels/cpu/index.hpp"

namespace flowtape::kernels::cuda {

using cpu::IndexView;

template <class T>
void gather_axis(const T* x, const std::int64_t* index, T* y, IndexView v);
template <class T>
void scatter_add_axis(const T* src, const std::int64_t* index, T* y, IndexView v);

}  // namespace flowtape::kernels::cuda
