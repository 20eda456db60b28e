// Axis reductions (see reduce.hpp). Two layouts, as on the CPU:
//  - inner == 1 (the axis is contiguous: a loss's final sum, a softmax over features): one
//    block per row, threads stride along the row (coalesced) and combine through warp
//    shuffles and shared memory;
//  - inner > 1: one thread per (outer, inner) output walking the axis; neighbouring threads
//    read neighbouring addresses, so the loads stay coalesced.
// Every combine is deterministic (fixed thread-to-element mapping, fixed tree), so a run
// gives the same bits every time; the order differs from the CPU's, hence the tolerances.
#include <cmath>

#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.hpp"

namespace flowtape::kernels::cuda {

namespace {

constexpr int kRowThreads = 256;

template <class T>
struct SumOp {
  __device__ static T init() { return T(0); }
  __device__ static T combine(T a, T b) { return a + b; }
};

// Propagates NaN: (b > a) || isnan(b) picks b, as the CPU's MaxOp does.
template <class T>
struct MaxOp {
  __device__ static T init() { return -INFINITY; }
  __device__ static T combine(T a, T b) { return (b > a || isnan(b)) ? b : a; }
};

// Reduces v over the block; every thread gets the result.
template <class Op, class T>
__device__ T block_reduce(T v) {
  __shared__ T warp_partial[kRowThreads / 32];
  for (int o = 16; o > 0; o /= 2) v = Op::combine(v, __shfl_down_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kRowThreads / 32 ? warp_partial[lane] : Op::init();
    for (int o = 16; o > 0; o /= 2) v = Op::combine(v, __shfl_down_sync(0xffffffffu, v, o));
    if (lane == 0) warp_partial[0] = v;
  }
  __syncthreads();
  const T r = warp_partial[0];
  __syncthreads();  // the buffer may be reused by the next call
  return r;
}

// m + log(s), except where m is infinite (an all -inf slice, or +inf inside), which is m.
template <class T>
__device__ T finish_lse(T m, T s) {
  return isinf(m) ? m : m + log(s);
}

// inner == 1: one block per row (grid-stride over rows).
template <Reduce R, class T>
__global__ void row_kernel(const T* __restrict__ x, T* __restrict__ y, std::int64_t outer,
                           std::int64_t len) {
  for (std::int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* row = x + o * len;
    if constexpr (R == Reduce::sum) {
      T acc = T(0);
      for (std::int64_t k = threadIdx.x; k < len; k += blockDim.x) acc += row[k];
      acc = block_reduce<SumOp<T>>(acc);
      if (threadIdx.x == 0) y[o] = acc;
    } else {
      T m = MaxOp<T>::init();
      for (std::int64_t k = threadIdx.x; k < len; k += blockDim.x) m = MaxOp<T>::combine(m, row[k]);
      m = block_reduce<MaxOp<T>>(m);
      if constexpr (R == Reduce::max) {
        if (threadIdx.x == 0) y[o] = m;
      } else {
        // exp(-inf - m) = 0 for padding; for an infinite m finish_lse ignores s.
        T s = T(0);
        for (std::int64_t k = threadIdx.x; k < len; k += blockDim.x) s += exp(row[k] - m);
        s = block_reduce<SumOp<T>>(s);
        const T lse = finish_lse(m, s);
        if constexpr (R == Reduce::logsumexp) {
          if (threadIdx.x == 0) y[o] = lse;
        } else {
          for (std::int64_t k = threadIdx.x; k < len; k += blockDim.x)
            y[o * len + k] = exp(row[k] - lse);
        }
      }
    }
  }
}

// inner > 1: one thread per (outer, inner) column.
template <Reduce R, class T>
__global__ void column_kernel(const T* __restrict__ x, T* __restrict__ y, std::int64_t outer,
                              std::int64_t len, std::int64_t inner) {
  FLOWTAPE_GRID_STRIDE(i, outer * inner) {
    const std::int64_t o = i / inner, j = i % inner;
    const T* col = x + o * len * inner + j;
    if constexpr (R == Reduce::sum) {
      T acc = T(0);
      for (std::int64_t k = 0; k < len; ++k) acc += col[k * inner];
      y[i] = acc;
    } else {
      T m = MaxOp<T>::init();
      for (std::int64_t k = 0; k < len; ++k) m = MaxOp<T>::combine(m, col[k * inner]);
      if constexpr (R == Reduce::max) {
        y[i] = m;
      } else {
        T s = T(0);
        for (std::int64_t k = 0; k < len; ++k) s += exp(col[k * inner] - m);
        const T lse = finish_lse(m, s);
        if constexpr (R == Reduce::logsumexp) {
          y[i] = lse;
        } else {
          T* out = y + o * len * inner + j;
          for (std::int64_t k = 0; k < len; ++k) out[k * inner] = exp(col[k * inner] - lse);
        }
      }
    }
  }
}

template <Reduce R, class T>
void launch(const T* x, T* y, std::int64_t outer, std::int64_t len, std::int64_t inner) {
  if (inner == 1) {
    const auto blocks = static_cast<unsigned>(outer < 65535 * 8 ? outer : 65535 * 8);
    row_kernel<R, T><<<blocks, kRowThreads>>>(x, y, outer, len);
  } else {
    column_kernel<R, T><<<grid_for(outer * inner), kThreads>>>(x, y, outer, len, inner);
  }
}

}  // namespace

template <class T>
void reduce_axis(Reduce op, const T* x, T* y, std::int64_t outer, std::int64_t len,
                 std::int64_t inner) {
  if (outer * inner == 0) return;
  // An empty axis needs no special case: the loops run zero times, so sum gives 0, max
  // -inf, logsumexp finish_lse(-inf, 0) = -inf, and softmax has nothing to write.
  switch (op) {
    case Reduce::sum:
      launch<Reduce::sum>(x, y, outer, len, inner);
      break;
    case Reduce::max:
      launch<Reduce::max>(x, y, outer, len, inner);
      break;
    case Reduce::logsumexp:
      launch<Reduce::logsumexp>(x, y, outer, len, inner);
      break;
    case Reduce::softmax:
      launch<Reduce::softmax>(x, y, outer, len, inner);
      break;
  }
  check_launch("reduction kernel");
}

template void reduce_axis<float>(Reduce, const float*, float*, std::int64_t, std::int64_t,
                                 std::int64_t);
template void reduce_axis<double>(Reduce, const double*, double*, std::int64_t, std::int64_t,
                                  std::int64_t);

}  // namespace flowtape::kernels::cuda
