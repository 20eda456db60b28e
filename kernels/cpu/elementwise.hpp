// Elementwise kernels: a unary map over a flat buffer, and N-ary maps with NumPy broadcasting
// (the inner loop is specialised on which operands are broadcast along it).
#pragma once

#include <array>
#include <cstdint>
#include <utility>

#include "kernels/cpu/broadcast.hpp"
#include "kernels/cpu/simd.hpp"

namespace flowtape::kernels::cpu {

template <class T, class F>
void map_unary(const T* x, T* y, std::int64_t n, F f) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  std::int64_t i = 0;
  for (; i + W <= n; i += W) f(B::load_unaligned(x + i)).store_unaligned(y + i);
  if (i < n) store_partial(f(load_partial(x + i, n - i)), y + i, n - i);
}

namespace detail {
// Loads W values from p, or broadcasts p[0] when the operand's stride along the row is 0.
template <class T>
inline Batch<T> fetch(const T* p, std::int64_t stride, std::int64_t i) {
  return stride == 0 ? Batch<T>(p[0]) : Batch<T>::load_unaligned(p + i);
}
template <class T>
inline Batch<T> fetch_tail(const T* p, std::int64_t stride, std::int64_t i, std::int64_t n) {
  return stride == 0 ? Batch<T>(p[0]) : load_partial(p + i, n);
}

template <class T, std::size_t N, class F, std::size_t... K>
void map_row(const std::array<const T*, N>& in, const std::array<std::int64_t, N>& s, T* y,
             std::int64_t n, F& f, std::index_sequence<K...>) {
  constexpr std::int64_t W = kWidth<T>;
  std::int64_t i = 0;
  for (; i + W <= n; i += W) f(fetch(in[K], s[K], i)...).store_unaligned(y + i);
  if (i < n) store_partial(f(fetch_tail(in[K], s[K], i, n - i)...), y + i, n - i);
}
}  // namespace detail

// y[out_shape] = f(in_0, ..., in_{N-1}) with broadcasting. Shapes are right-aligned.
template <class T, std::size_t N, class F>
void map_broadcast(const std::array<const T*, N>& in, const std::array<const std::int64_t*, N>& shape,
                   const std::array<int, N>& rank, T* y, const std::int64_t* out_shape,
                   int out_rank, F f) {
  const BroadcastPlan<N> plan = plan_broadcast<N>(out_shape, out_rank, shape, rank);
  for_each_row(plan, [&](const std::array<std::int64_t, N>& off, std::int64_t out_off,
                         std::int64_t n, const std::array<std::int64_t, N>& inner) {
    std::array<const T*, N> p;
    for (std::size_t k = 0; k < N; ++k) p[k] = in[k] + off[k];
    detail::map_row<T, N>(p, inner, y + out_off, n, f, std::make_index_sequence<N>{});
  });
}

}  // namespace flowtape::kernels::cpu
