// SPDX-License-Identifier: MIT
// The backward kernel of the fused linear + SiLU layer (autodiff's linear_silu): from the
// pre-activation z, silu's denominator d = 1 + e^-z and the output's cotangent g, it writes
// dz = g silu'(z) and the bias gradient db = the column sums of dz in one pass. Apart, they
// were two passes over [rows, cols] (silu_grad's map, then sum_axis reading dz back), and at
// batch 4096 both ran from memory. The bits are those of the two passes: dz through the same
// functor, lane by lane, and each column of db folded from 0 in row order, as sum_axis does
// for a strided axis (a single column is left to sum_axis).
#pragma once

#include <algorithm>
#include <cstdint>

#include "flowtape/kernels/cpu/elementwise.hpp"
#include "flowtape/kernels/cpu/math.hpp"
#include "flowtape/kernels/cpu/parallel.hpp"
#include "flowtape/kernels/cpu/reduce.hpp"
#include "flowtape/kernels/cpu/simd.hpp"

namespace flowtape::kernels::cpu {

namespace detail {
// Rows [r0, r1) of dz = g silu'(z), each also added onto db[0, cols) in row order when kSums.
// With one batch of db per W columns and 8-32 batches a row at widths 64-256, the loads and
// stores of one column's running sum are a row of work apart and never wait on each other.
template <bool kSums, class T>
void silu_grad_rows(const T* z, const T* g, const T* d, T* dz, T* db, std::int64_t cols,
                    std::int64_t r0, std::int64_t r1) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  const fn::SiluGradFromDenominator f;
  const std::int64_t full = cols / W * W, tail = cols - full;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t o = r * cols;
    for (std::int64_t j = 0; j < full; j += W) {
      const B v = f(B::load_unaligned(z + o + j), B::load_unaligned(g + o + j),
                    B::load_unaligned(d + o + j));
      v.store_unaligned(dz + o + j);
      if constexpr (kSums) (B::load_unaligned(db + j) + v).store_unaligned(db + j);
    }
    if (tail) {
      const B v = f(load_partial(z + o + full, tail), load_partial(g + o + full, tail),
                    load_partial(d + o + full, tail, T(1)));
      store_partial(v, dz + o + full, tail);
      if constexpr (kSums) store_partial(load_partial(db + full, tail) + v, db + full, tail);
    }
  }
}

// db[0, cols) += rows [r0, r1) of x, in row order.
template <class T>
void add_rows(const T* x, T* db, std::int64_t cols, std::int64_t r0, std::int64_t r1) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  const std::int64_t full = cols / W * W, tail = cols - full;
  for (std::int64_t r = r0; r < r1; ++r) {
    const T* row = x + r * cols;
    for (std::int64_t j = 0; j < full; j += W)
      (B::load_unaligned(db + j) + B::load_unaligned(row + j)).store_unaligned(db + j);
    if (tail)
      store_partial(load_partial(db + full, tail) + load_partial(row + full, tail), db + full,
                    tail);
  }
}
}  // namespace detail

// dz[rows, cols] = g silu'(z) with d = 1 + e^-z; db[cols] = sum over rows of dz (skipped when db
// is null). Row-major, contiguous. Each column of db is folded from 0 in row order whatever the
// thread count. With threads, the rows are cut into one part per thread; the first part also
// sums its rows as it goes, and the caller then adds the other parts' rows of dz in order.
// (Giving each thread whole columns instead was 0.6-0.85x as fast as the two passes at
// [1024-4096, 256]: each core then read half of every row, and its prefetcher the other half.)
template <class T>
void silu_grad_and_column_sums(const T* z, const T* g, const T* d, T* dz, T* db, std::int64_t rows,
                               std::int64_t cols) {
  if (db && cols == 1) {
    // One column is a contiguous axis, which sum_axis folds in four interleaved sums rather
    // than in row order: the derivative alone, then sum_axis, gives its bits.
    silu_grad_and_column_sums(z, g, d, dz, static_cast<T*>(nullptr), rows, cols);
    sum_axis(dz, db, AxisView{1, rows, 1});
    return;
  }
  if (db) std::fill(db, db + cols, T(0));
  const std::int64_t threads = get_num_threads();
  const std::int64_t parts =
      threads <= 1 || rows * cols < kParallelElements ? 1 : std::min(rows, threads);
  const std::int64_t per = std::max<std::int64_t>(1, (rows + parts - 1) / parts);
  parallel_for((rows + per - 1) / per, [&](std::int64_t p) {
    const std::int64_t r0 = p * per, r1 = std::min(rows, r0 + per);
    if (p == 0 && db)
      detail::silu_grad_rows<true>(z, g, d, dz, db, cols, r0, r1);
    else
      detail::silu_grad_rows<false>(z, g, d, dz, db, cols, r0, r1);
  });
  if (db) detail::add_rows(dz, db, cols, per, rows);
}

}  // namespace flowtape::kernels::cpu
