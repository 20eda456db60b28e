// SPDX-License-Identifier: MIT
// gather_axis and scatter_add_axis on the device (index.hpp): one thread per element of the
// [outer, k, inner] side.
#include <cstdint>

#include "flowtape/kernels/cuda/check.hpp"
#include "flowtape/kernels/cuda/index.hpp"
#include "flowtape/kernels/cuda/launch.cuh"
#include "flowtape/kernels/cuda/runtime.hpp"

namespace flowtape::kernels::cuda {
namespace {

// The flat position in x (or y) that element e of the [outer, k, inner] side addresses.
__device__ std::int64_t source_of(std::int64_t e, const std::int64_t* index, IndexView v) {
  const std::int64_t i = e % v.inner;
  const std::int64_t row = e / v.inner;
  const std::int64_t j = row % v.k;
  const std::int64_t o = row / v.k;
  const std::int64_t at = v.shared ? index[j] : index[e];
  return (o * v.len + at) * v.inner + i;
}

template <class T>
__global__ void gather_kernel(const T* x, const std::int64_t* index, T* y, IndexView v,
                              std::int64_t n) {
  FLOWTAPE_GRID_STRIDE(e, n) {
    y[e] = x[source_of(e, index, v)];
  }
}

template <class T>
__global__ void scatter_add_kernel(const T* src, const std::int64_t* index, T* y, IndexView v,
                                   std::int64_t n) {
  FLOWTAPE_GRID_STRIDE(e, n) {
    atomicAdd(y + source_of(e, index, v), src[e]);
  }
}

}  // namespace

template <class T>
void gather_axis(const T* x, const std::int64_t* index, T* y, IndexView v) {
  const std::int64_t n = v.outer * v.k * v.inner;
  if (n == 0) return;
  gather_kernel<T><<<grid_for(n), kThreads>>>(x, index, y, v, n);
  check_launch("gather kernel");
}

template <class T>
void scatter_add_axis(const T* src, const std::int64_t* index, T* y, IndexView v) {
  zero_device(y, static_cast<std::size_t>(v.outer * v.len * v.inner) * sizeof(T));
  const std::int64_t n = v.outer * v.k * v.inner;
  if (n == 0) return;
  scatter_add_kernel<T><<<grid_for(n), kThreads>>>(src, index, y, v, n);
  check_launch("scatter_add kernel");
}

template void gather_axis<float>(const float*, const std::int64_t*, float*, IndexView);
template void gather_axis<double>(const double*, const std::int64_t*, double*, IndexView);
template void scatter_add_axis<float>(const float*, const std::int64_t*, float*, IndexView);
template void scatter_add_axis<double>(const double*, const std::int64_t*, double*, IndexView);

}  // namespace flowtape::kernels::cuda
