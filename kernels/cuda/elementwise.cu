// SPDX-License-Identifier: MIT
// Elementwise CUDA kernels (see elementwise.hpp). A grid-stride loop in which each thread
// takes kUnroll elements a block apart (a warp's accesses stay coalesced) and issues all their
// loads before computing, so enough bytes are in flight to reach the memory bandwidth (one
// element per thread left the [65536, 256] maps of a training step at half of it). Broadcast
// inputs are addressed through the merged BroadcastPlan, so the common cases (same shapes, or
// a scalar operand) reduce to a rank-1 plan with no index arithmetic beyond one multiply per
// operand.
#include <cmath>
#include <stdexcept>

#include "flowtape/kernels/cpu/broadcast.hpp"
#include "flowtape/kernels/cuda/elementwise.hpp"
#include "flowtape/kernels/cuda/launch.cuh"

namespace flowtape::kernels::cuda {

namespace {

template <Unary Op, class T>
__device__ inline T apply_unary(T x, T p) {
  if constexpr (Op == Unary::neg)
    return -x;
  else if constexpr (Op == Unary::exp)
    return exp(x);
  else if constexpr (Op == Unary::log)
    return log(x);
  else if constexpr (Op == Unary::expm1)
    return expm1(x);
  else if constexpr (Op == Unary::log1p)
    return log1p(x);
  else if constexpr (Op == Unary::sqrt)
    return sqrt(x);
  else if constexpr (Op == Unary::square)
    return x * x;
  else if constexpr (Op == Unary::abs)
    return fabs(x);
  else if constexpr (Op == Unary::tanh)
    return tanh(x);
  // 1 / (1 + e^-x): e^-x overflows to inf for very negative x, and 1/inf = 0 is the limit.
  else if constexpr (Op == Unary::sigmoid)
    return T(1) / (T(1) + exp(-x));
  else if constexpr (Op == Unary::relu)
    return x > T(0) || isnan(x) ? x : T(0);  // a NaN stays a NaN, as on the CPU
  else if constexpr (Op == Unary::silu)
    return x * (T(1) / (T(1) + exp(-x)));  // the CPU's formula (kernels/cpu/math.hpp)
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never overflows.
  else if constexpr (Op == Unary::softplus)
    return (x > T(0) ? x : T(0)) + log1p(exp(-fabs(x)));
  else if constexpr (Op == Unary::sin)
    return sin(x);
  else if constexpr (Op == Unary::cos)
    return cos(x);
  else if constexpr (Op == Unary::sign)
    return x > T(0) ? T(1) : (x < T(0) ? T(-1) : (isnan(x) ? x : T(0)));  // NaN stays NaN
  else
    return pow(x, p);
}

constexpr int kUnroll = 4;

unsigned grid_for_unrolled(std::int64_t n) {
  return grid_for((n + kUnroll - 1) / kUnroll);
}

// The loop shared by the unrolled kernels: body(i) for every i < n, kUnroll per thread and
// round. `load(i)` reads element i's inputs; `store(i, loaded)` computes and writes it.
template <class Load, class Store>
__device__ inline void for_each_unrolled(std::int64_t n, Load load, Store store) {
  const std::int64_t block = blockDim.x;
  const std::int64_t step = block * gridDim.x * kUnroll;
  for (std::int64_t base = static_cast<std::int64_t>(blockIdx.x) * block * kUnroll + threadIdx.x;
       base < n; base += step) {
    decltype(load(base)) v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      if (base + u * block < n) v[u] = load(base + u * block);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      if (base + u * block < n) store(base + u * block, v[u]);
  }
}

template <Unary Op, class T>
__global__ void unary_kernel(const T* __restrict__ x, T* __restrict__ y, std::int64_t n, T p) {
  for_each_unrolled(
      n, [&](std::int64_t i) { return x[i]; },
      [&](std::int64_t i, T v) { y[i] = apply_unary<Op>(v, p); });
}

template <Nary Op, class T>
__device__ inline T apply_binary(T a, T b) {
  if constexpr (Op == Nary::add)
    return a + b;
  else if constexpr (Op == Nary::sub)
    return a - b;
  else if constexpr (Op == Nary::mul)
    return a * b;
  else if constexpr (Op == Nary::div)
    return a / b;
  else if constexpr (Op == Nary::greater)
    return a > b ? T(1) : T(0);
  else if constexpr (Op == Nary::less)
    return a < b ? T(1) : T(0);
  else if constexpr (Op == Nary::equal)
    return a == b ? T(1) : T(0);
  else {
    // a = x, b = g; the CPU's formulas (kernels/cpu/math.hpp), s = sigmoid(x).
    const T s = T(1) / (T(1) + exp(-a));
    if constexpr (Op == Nary::silu_grad)
      return b * s * (T(1) + a * (T(1) - s));
    else
      return b * s * (T(1) - s) * (T(2) + a * (T(1) - T(2) * s));
  }
}

// The plan travels by value in the kernel's parameter space (at most ~200 bytes).
template <std::size_t N>
struct DevicePlan {
  int rank;
  std::int64_t shape[cpu::kMaxRank];
  std::int64_t stride[N][cpu::kMaxRank];
};

// Element offsets of output index i in each input. Index type I: 32-bit when every index fits
// (integer division is several times cheaper than in 64 bits, and there is one per dimension),
// 64-bit otherwise. A rank-1 plan (same shapes, or a scalar operand) needs no division at all.
template <class I, std::size_t N>
__device__ inline void input_offsets(const DevicePlan<N>& plan, std::int64_t i,
                                     std::int64_t (&off)[N]) {
  if (plan.rank == 1) {
#pragma unroll
    for (std::size_t k = 0; k < N; ++k) off[k] = i * plan.stride[k][0];
    return;
  }
#pragma unroll
  for (std::size_t k = 0; k < N; ++k) off[k] = 0;
  // Row-major decomposition of i over the merged output shape, innermost dimension last.
  I rest = static_cast<I>(i);
  for (int d = plan.rank - 1; d >= 0; --d) {
    const I extent = static_cast<I>(plan.shape[d]);
    const I idx = rest % extent;
    rest /= extent;
#pragma unroll
    for (std::size_t k = 0; k < N; ++k)
      off[k] += static_cast<std::int64_t>(idx) * plan.stride[k][d];
  }
}

template <Nary Op, class T, std::size_t N, class I>
__global__ void nary_kernel(DevicePlan<N> plan, const T* __restrict__ a, const T* __restrict__ b,
                            const T* __restrict__ c, T* __restrict__ y, std::int64_t n) {
  struct Loaded {
    T v[N];
  };
  for_each_unrolled(
      n,
      [&](std::int64_t i) {
        std::int64_t off[N];
        input_offsets<I>(plan, i, off);
        Loaded l;
        l.v[0] = a[off[0]];
        if constexpr (N > 1) l.v[1] = b[off[1]];
        if constexpr (N > 2) l.v[2] = c[off[2]];
        return l;
      },
      [&](std::int64_t i, const Loaded& l) {
        if constexpr (N == 1)
          y[i] = l.v[0];
        else if constexpr (N == 2)
          y[i] = apply_binary<Op>(l.v[0], l.v[1]);
        else
          y[i] = l.v[0] != T(0) ? l.v[1] : l.v[2];
      });
}

template <class T>
__global__ void fill_kernel(T* y, std::int64_t n, T v) {
  FLOWTAPE_GRID_STRIDE(i, n) {
    y[i] = v;
  }
}

template <class T>
__global__ void arange_kernel(T* y, std::int64_t n, double start, double step) {
  FLOWTAPE_GRID_STRIDE(i, n) {
    y[i] = static_cast<T>(start + static_cast<double>(i) * step);
  }
}

template <class S, class D>
__global__ void cast_kernel(const S* x, D* y, std::int64_t n) {
  FLOWTAPE_GRID_STRIDE(i, n) {
    y[i] = static_cast<D>(x[i]);
  }
}

template <Unary Op, class T>
void launch_unary(const T* x, T* y, std::int64_t n, double p) {
  unary_kernel<Op, T><<<grid_for_unrolled(n), kThreads>>>(x, y, n, static_cast<T>(p));
}

template <Nary Op, class T, std::size_t N>
void launch_nary(const cpu::BroadcastPlan<N>& p, const std::array<const T*, N>& in, T* y,
                 std::int64_t n) {
  DevicePlan<N> dp{};
  dp.rank = p.rank;
  for (int d = 0; d < p.rank; ++d) {
    dp.shape[d] = p.shape[d];
    for (std::size_t k = 0; k < N; ++k) dp.stride[k][d] = p.stride[k][d];
  }
  const T* a = in[0];
  const T* b = N > 1 ? in[N > 1 ? 1 : 0] : nullptr;
  const T* c = N > 2 ? in[N > 2 ? 2 : 0] : nullptr;
  if (n <= 0xffffffffLL)
    nary_kernel<Op, T, N, std::uint32_t><<<grid_for_unrolled(n), kThreads>>>(dp, a, b, c, y, n);
  else
    nary_kernel<Op, T, N, std::int64_t><<<grid_for_unrolled(n), kThreads>>>(dp, a, b, c, y, n);
}

}  // namespace

template <class T>
void unary(Unary op, const T* x, T* y, std::int64_t n, double p) {
  if (n == 0) return;
  switch (op) {
#define FLOWTAPE_CASE(name, ...)           \
  case Unary::name:                        \
    launch_unary<Unary::name>(x, y, n, p); \
    break;
    FLOWTAPE_UNARY_OPS(FLOWTAPE_CASE)
    FLOWTAPE_CASE(silu)
    FLOWTAPE_CASE(sign)
    FLOWTAPE_CASE(pow_scalar)
#undef FLOWTAPE_CASE
  }
  check_launch("unary kernel");
}

template <class T, std::size_t N>
void nary(Nary op, const std::array<const T*, N>& in,
          const std::array<const std::int64_t*, N>& shape, const std::array<int, N>& rank, T* y,
          const std::int64_t* out_shape, int out_rank) {
  std::int64_t n = 1;
  for (int d = 0; d < out_rank; ++d) n *= out_shape[d];
  if (n == 0) return;
  if (out_rank > cpu::kMaxRank)
    throw std::invalid_argument("flowtape cuda: broadcasting supports rank <= 8");
  const cpu::BroadcastPlan<N> plan = cpu::plan_broadcast<N>(out_shape, out_rank, shape, rank);
  if constexpr (N == 1) {
    if (op != Nary::copy) throw std::invalid_argument("flowtape cuda: nary<1> supports copy only");
    launch_nary<Nary::copy, T, 1>(plan, in, y, n);
  } else if constexpr (N == 3) {
    if (op != Nary::where)
      throw std::invalid_argument("flowtape cuda: nary<3> supports where only");
    launch_nary<Nary::where, T, 3>(plan, in, y, n);
  } else {
    switch (op) {
#define FLOWTAPE_CASE(name)                        \
  case Nary::name:                                 \
    launch_nary<Nary::name, T, 2>(plan, in, y, n); \
    break;
      FLOWTAPE_CASE(add)
      FLOWTAPE_CASE(sub)
      FLOWTAPE_CASE(mul)
      FLOWTAPE_CASE(div)
      FLOWTAPE_CASE(greater)
      FLOWTAPE_CASE(less)
      FLOWTAPE_CASE(equal)
      FLOWTAPE_CASE(silu_grad)
      FLOWTAPE_CASE(silu_grad2)
#undef FLOWTAPE_CASE
      default:
        throw std::invalid_argument("flowtape cuda: not a binary op code");
    }
  }
  check_launch("broadcast kernel");
}

template <class T>
void fill(T* y, std::int64_t n, T value) {
  if (n == 0) return;
  fill_kernel<T><<<grid_for(n), kThreads>>>(y, n, value);
  check_launch("fill kernel");
}

template <class T>
void arange(T* y, std::int64_t n, double start, double step) {
  if (n == 0) return;
  arange_kernel<T><<<grid_for(n), kThreads>>>(y, n, start, step);
  check_launch("arange kernel");
}

template <class S, class D>
void cast(const S* x, D* y, std::int64_t n) {
  if (n == 0) return;
  cast_kernel<S, D><<<grid_for(n), kThreads>>>(x, y, n);
  check_launch("cast kernel");
}

#define FLOWTAPE_INSTANTIATE(T)                                                                  \
  template void unary<T>(Unary, const T*, T*, std::int64_t, double);                             \
  template void nary<T, 1>(Nary, const std::array<const T*, 1>&,                                 \
                           const std::array<const std::int64_t*, 1>&, const std::array<int, 1>&, \
                           T*, const std::int64_t*, int);                                        \
  template void nary<T, 2>(Nary, const std::array<const T*, 2>&,                                 \
                           const std::array<const std::int64_t*, 2>&, const std::array<int, 2>&, \
                           T*, const std::int64_t*, int);                                        \
  template void nary<T, 3>(Nary, const std::array<const T*, 3>&,                                 \
                           const std::array<const std::int64_t*, 3>&, const std::array<int, 3>&, \
                           T*, const std::int64_t*, int);                                        \
  template void fill<T>(T*, std::int64_t, T);                                                    \
  template void arange<T>(T*, std::int64_t, double, double);
FLOWTAPE_INSTANTIATE(float)
FLOWTAPE_INSTANTIATE(double)
#undef FLOWTAPE_INSTANTIATE
template void cast<float, double>(const float*, double*, std::int64_t);
template void cast<double, float>(const double*, float*, std::int64_t);
// Masks and indices to and from the floating types. (Floating to i64 is converted on the host,
// which checks every value: kernels cannot throw.)
template void cast<float, bool>(const float*, bool*, std::int64_t);
template void cast<double, bool>(const double*, bool*, std::int64_t);
template void cast<bool, float>(const bool*, float*, std::int64_t);
template void cast<bool, double>(const bool*, double*, std::int64_t);
template void cast<std::int64_t, float>(const std::int64_t*, float*, std::int64_t);
template void cast<std::int64_t, double>(const std::int64_t*, double*, std::int64_t);
template void cast<std::int64_t, bool>(const std::int64_t*, bool*, std::int64_t);
template void cast<bool, std::int64_t>(const bool*, std::int64_t*, std::int64_t);

}  // namespace flowtape::kernels::cuda
