// SPDX-License-Identifier: MIT
// Elementwise kernels: a unary map over a flat buffer, and N-ary maps with NumPy broadcasting
// (the inner loop is specialised on which operands are broadcast along it). Flat maps of at
// least kParallelElements are cut into chunks run on the thread pool (see parallel.hpp); an
// element's result does not depend on its chunk, so the thread count never changes results.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "flowtape/kernels/cpu/broadcast.hpp"
#include "flowtape/kernels/cpu/parallel.hpp"
#include "flowtape/kernels/cpu/simd.hpp"

namespace flowtape::kernels::cpu {

// Below this many elements a map is not worth a second thread (2^14 and 2^15 gained nothing
// measurable on training steps, even with the pool's workers spinning between jobs).
inline constexpr std::int64_t kParallelElements = std::int64_t{1} << 16;

// Calls body(begin, end) over [0, n): at once when n is small or one thread is set, else in
// one chunk per thread (multiples of 64 elements) spread over the pool. One per thread, as the
// GEMM cuts C into one block of rows per thread: the caller takes the first chunk of a map
// over a layer's output as it took the first rows of the GEMM that wrote it, so each core
// reads what it wrote. Two chunks per thread, claimed in turn, sent half of each core's rows
// to the other core; one chunk per thread made two-thread training steps up to 1.1x as fast.
template <class Body>
void for_chunks(std::int64_t n, Body&& body) {
  const int threads = get_num_threads();
  if (threads <= 1 || n < kParallelElements) {
    body(std::int64_t{0}, n);
    return;
  }
  const std::int64_t parts = static_cast<std::int64_t>(threads);
  const std::int64_t per = ((n + parts - 1) / parts + 63) / 64 * 64;
  parallel_for((n + per - 1) / per, [&](std::int64_t c) {
    body(c * per, std::min(n, (c + 1) * per));
  });
}

namespace detail {
// Runs the full batches of [0, n): compute(i) gives the result for elements [i, i + W),
// store(i, result) writes it; returns the first index not done. Batches go two at a time,
// both computed before either is stored: an xsimd store writes through a may_alias type, so
// the compiler keeps the next batch's loads and arithmetic after it, one long dependency
// chain (an exp, a division) after the other, and side by side the core overlaps the two.
// Each batch is still computed on its own, so the bits do not change. With the pointers
// below taken as parameters, silu with its denominator (map_unary2) ran up to 1.2x faster.
// map_row keeps one batch at a time: paired, a three-operand map (silu's derivative) ran
// slower.
template <std::int64_t W, class Compute, class Store>
inline std::int64_t for_batches(std::int64_t n, Compute compute, Store store) {
  std::int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const auto first = compute(i);
    const auto second = compute(i + W);
    store(i, first);
    store(i + W, second);
  }
  for (; i + W <= n; i += W) store(i, compute(i));
  return i;
}

// The row loops below (and map_row) take their pointers as function parameters: for_chunks'
// body is reached through a reference, so pointers read from its captures, which live in the
// closure object in memory, were reloaded after every may_alias store. The small lambdas
// inside the row loops are local objects whose address never escapes, so their captures stay
// in registers.
template <class T, class F>
void unary_row(const T* x, T* y, std::int64_t n, F f) {
  using B = Batch<T>;
  const std::int64_t i = for_batches<kWidth<T>>(
      n, [x, f](std::int64_t j) { return f(B::load_unaligned(x + j)); },
      [y](std::int64_t j, const B& r) { r.store_unaligned(y + j); });
  if (i < n) store_partial(f(load_partial(x + i, n - i)), y + i, n - i);
}

template <class T, class F>
void unary2_row(const T* x, T* y, T* z, std::int64_t n, F f) {
  using B = Batch<T>;
  const std::int64_t i = for_batches<kWidth<T>>(
      n, [x, f](std::int64_t j) { return f(B::load_unaligned(x + j)); },
      [y, z](std::int64_t j, const auto& r) {
        const auto& [a, b] = r;
        a.store_unaligned(y + j);
        b.store_unaligned(z + j);
      });
  if (i < n) {
    const auto [a, b] = f(load_partial(x + i, n - i));
    store_partial(a, y + i, n - i);
    store_partial(b, z + i, n - i);
  }
}
}  // namespace detail

template <class T, class F>
void map_unary(const T* x, T* y, std::int64_t n, F f) {
  for_chunks(n, [x, y, f](std::int64_t lo, std::int64_t hi) {
    detail::unary_row(x + lo, y + lo, hi - lo, f);
  });
}

// Two outputs from one input in one pass: f(batch) returns a pair {y, z}. (silu and the
// denominator its derivatives reuse.)
template <class T, class F>
void map_unary2(const T* x, T* y, T* z, std::int64_t n, F f) {
  for_chunks(n, [x, y, z, f](std::int64_t lo, std::int64_t hi) {
    detail::unary2_row(x + lo, y + lo, z + lo, hi - lo, f);
  });
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
void map_row(const std::array<const T*, N> in, const std::array<std::int64_t, N> s, T* y,
             std::int64_t n, F f, std::index_sequence<K...>) {
  constexpr std::int64_t W = kWidth<T>;
  std::int64_t i = 0;
  for (; i + W <= n; i += W) f(fetch(in[K], s[K], i)...).store_unaligned(y + i);
  if (i < n) store_partial(f(fetch_tail(in[K], s[K], i, n - i)...), y + i, n - i);
}

// A rank-2 plan whose rows are shorter than one batch ([B, 2] against a per-sample [B, 1]):
// row by row, each row would be one partial batch, and the partial loads and stores cost
// several times the arithmetic. Instead W consecutive outputs at a time are gathered
// element by element into full batches. Each lane is still f of its own operands, so the
// bits are those of the row-by-row loop, for the lane-wise functors that reach
// map_broadcast (arithmetic, comparisons, where, copy). A functor that branched on all of a
// batch's lanes at once (xsimd's sin and cos pick their range reduction that way) could
// differ. Rows are at least one element long (the caller skips empty rows).
template <class T, std::size_t N, class F, std::size_t... K>
void map_short_rows(const std::array<const T*, N> in, const BroadcastPlan<N>& plan, T* y, F f,
                    std::index_sequence<K...>) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  const std::int64_t n = plan.shape[1], total = plan.shape[0] * n;
  std::array<std::int64_t, N> row_stride, col_stride;
  for (std::size_t k = 0; k < N; ++k) {
    row_stride[k] = plan.stride[k][0];
    col_stride[k] = plan.stride[k][1];
  }
  for_chunks(total, [in, row_stride, col_stride, n, y, f](std::int64_t lo, std::int64_t hi) {
    alignas(64) T buf[N][W];
    std::int64_t r = lo / n, j = lo % n;
    for (std::int64_t e = lo; e < hi; e += W) {
      const std::int64_t m = hi - e < W ? hi - e : W;
      for (std::int64_t q = 0; q < m; ++q) {
        ((buf[K][q] = in[K][r * row_stride[K] + j * col_stride[K]]), ...);
        if (++j == n) {
          j = 0;
          ++r;
        }
      }
      for (std::int64_t q = m; q < W; ++q) ((buf[K][q] = buf[K][0]), ...);  // unused lanes
      const B out = f(B::load_aligned(buf[K])...);
      if (m == W)
        out.store_unaligned(y + e);
      else
        store_partial(out, y + e, m);
    }
  });
}
}  // namespace detail

// y[out_shape] = f(in_0, ..., in_{N-1}) with broadcasting. Shapes are right-aligned.
template <class T, std::size_t N, class F>
void map_broadcast(const std::array<const T*, N>& in, const std::array<const std::int64_t*, N>& shape,
                   const std::array<int, N>& rank, T* y, const std::int64_t* out_shape,
                   int out_rank, F f) {
  const BroadcastPlan<N> plan = plan_broadcast<N>(out_shape, out_rank, shape, rank);
  if (plan.rank == 1) {  // one flat row (no broadcasting, or scalars against a tensor)
    std::array<std::int64_t, N> inner;
    for (std::size_t k = 0; k < N; ++k) inner[k] = plan.stride[k][0];
    for_chunks(plan.shape[0], [&](std::int64_t lo, std::int64_t hi) {
      std::array<const T*, N> p;
      for (std::size_t k = 0; k < N; ++k) p[k] = in[k] + (inner[k] == 0 ? 0 : lo);
      detail::map_row<T, N>(p, inner, y + lo, hi - lo, f, std::make_index_sequence<N>{});
    });
    return;
  }
  if (plan.rank == 2 && plan.shape[1] > 0 && plan.shape[1] < kWidth<T>) {
    detail::map_short_rows<T, N>(in, plan, y, f, std::make_index_sequence<N>{});
    return;
  }
  for_each_row(plan, [&](const std::array<std::int64_t, N>& off, std::int64_t out_off,
                         std::int64_t n, const std::array<std::int64_t, N>& inner) {
    std::array<const T*, N> p;
    for (std::size_t k = 0; k < N; ++k) p[k] = in[k] + off[k];
    detail::map_row<T, N>(p, inner, y + out_off, n, f, std::make_index_sequence<N>{});
  });
}

}  // namespace flowtape::kernels::cpu
