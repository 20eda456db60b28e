// SPDX-License-Identifier: MIT
// Axis reductions. Two layouts matter: inner == 1 (the axis is contiguous: horizontal SIMD
// reduction per row) and inner > 1 (SIMD runs across `inner`, accumulating whole rows).
#include "flowtape/kernels/cpu/reduce.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "flowtape/kernels/cpu/simd.hpp"

namespace flowtape::kernels::cpu {
namespace {

// Reduces each contiguous row x[0..len) with the combiner `op`, starting from `init`.
// Four independent accumulators hide the add latency.
template <class T, class Op>
T reduce_row(const T* x, std::int64_t len, T init, Op op) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  B a0(init), a1(init), a2(init), a3(init);
  std::int64_t i = 0;
  for (; i + 4 * W <= len; i += 4 * W) {
    a0 = op(a0, B::load_unaligned(x + i));
    a1 = op(a1, B::load_unaligned(x + i + W));
    a2 = op(a2, B::load_unaligned(x + i + 2 * W));
    a3 = op(a3, B::load_unaligned(x + i + 3 * W));
  }
  for (; i + W <= len; i += W) a0 = op(a0, B::load_unaligned(x + i));
  if (i < len) a1 = op(a1, load_partial(x + i, len - i, init));
  B acc = op(op(a0, a1), op(a2, a3));
  alignas(64) T lanes[B::size];
  acc.store_aligned(lanes);
  B r(lanes[0]);
  for (std::size_t k = 1; k < B::size; ++k) r = op(r, B(lanes[k]));
  r.store_aligned(lanes);
  return lanes[0];
}

// y[0..n) = the fold over k < len of the rows x + k * n of a [len, n] block, starting from
// `init`: a strided axis (inner = n > 1; a bias gradient sums the rows of a [batch, width]
// gradient). Columns are taken four batches at a time with the accumulators in registers:
// folding a row at a time into y in memory made each row wait on the previous row's store
// (~6 cycles a row). Each column is still folded in the order k = 0, 1, ..., so the result is
// the same.
template <class T, class Op>
void fold_columns(const T* x, std::int64_t len, std::int64_t n, T* y, T init, Op op) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  std::int64_t j = 0;
  for (; j + 4 * W <= n; j += 4 * W) {
    B a0(init), a1(init), a2(init), a3(init);
    for (std::int64_t k = 0; k < len; ++k) {
      const T* row = x + k * n + j;
      a0 = op(a0, B::load_unaligned(row));
      a1 = op(a1, B::load_unaligned(row + W));
      a2 = op(a2, B::load_unaligned(row + 2 * W));
      a3 = op(a3, B::load_unaligned(row + 3 * W));
    }
    a0.store_unaligned(y + j);
    a1.store_unaligned(y + j + W);
    a2.store_unaligned(y + j + 2 * W);
    a3.store_unaligned(y + j + 3 * W);
  }
  for (; j < n; j += W) {
    const std::int64_t m = std::min(W, n - j);
    B a(init);
    for (std::int64_t k = 0; k < len; ++k)
      a = op(a, m == W ? B::load_unaligned(x + k * n + j) : load_partial(x + k * n + j, m));
    if (m == W)
      a.store_unaligned(y + j);
    else
      store_partial(a, y + j, m);
  }
}

struct AddOp {
  template <class B>
  B operator()(const B& a, const B& b) const {
    return a + b;
  }
};
// Maximum that propagates NaN (plain vmax drops it).
struct MaxOp {
  template <class B>
  B operator()(const B& a, const B& b) const {
    return xsimd::select((b > a) | xsimd::isnan(b), b, a);
  }
};

template <class T, class Op>
void reduce_axis(const T* x, T* y, AxisView v, T init, Op op) {
  for (std::int64_t o = 0; o < v.outer; ++o) {
    const T* xo = x + o * v.len * v.inner;
    T* yo = y + o * v.inner;
    if (v.inner == 1 && v.len < kWidth<T>) {
      // Rows shorter than one batch (a per-sample loss summing 2 coordinates, over every
      // row of the batch): fold in order, one value at a time. This is the value reduce_row
      // gives (its lanes are x[0..len) then `init`, folded in order), without its setup and
      // horizontal pass, which cost ~15x the two adds.
      Batch<T> r(init);
      for (std::int64_t k = 0; k < v.len; ++k) r = op(r, Batch<T>(xo[k]));
      yo[0] = r.get(0);
    } else if (v.inner == 1) {
      yo[0] = reduce_row(xo, v.len, init, op);
    } else {
      fold_columns(xo, v.len, v.inner, yo, init, op);
    }
  }
}

// m + log(s), except where m is infinite (an all -inf slice, or +inf inside), which is m.
template <class T>
T finish_lse(T m, T s) {
  return std::isinf(m) ? m : m + std::log(s);
}

}  // namespace

template <class T>
void sum_axis(const T* x, T* y, AxisView v) {
  reduce_axis(x, y, v, T(0), AddOp{});
}

template <class T>
void max_axis(const T* x, T* y, AxisView v) {
  reduce_axis(x, y, v, -std::numeric_limits<T>::infinity(), MaxOp{});
}

template <class T>
void logsumexp_axis(const T* x, T* y, AxisView v) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  max_axis(x, y, v);  // y holds the shift m
  std::vector<T> s(static_cast<std::size_t>(v.inner));
  for (std::int64_t o = 0; o < v.outer; ++o) {
    const T* xo = x + o * v.len * v.inner;
    T* yo = y + o * v.inner;
    if (v.inner == 1) {
      const T m = yo[0];
      const B mb(m);
      B acc(0);
      std::int64_t i = 0;
      for (; i + W <= v.len; i += W) acc += xsimd::exp(B::load_unaligned(xo + i) - mb);
      // Padding lanes hold -inf so they contribute exp(-inf) = 0.
      if (i < v.len)
        acc +=
            xsimd::exp(load_partial(xo + i, v.len - i, -std::numeric_limits<T>::infinity()) - mb);
      yo[0] = finish_lse(m, xsimd::hadd(acc));
    } else {
      std::fill(s.begin(), s.end(), T(0));
      for (std::int64_t k = 0; k < v.len; ++k) {
        const T* row = xo + k * v.inner;
        for (std::int64_t j = 0; j < v.inner; ++j) s[j] += std::exp(row[j] - yo[j]);
      }
      for (std::int64_t j = 0; j < v.inner; ++j) yo[j] = finish_lse(yo[j], s[j]);
    }
  }
}

template <class T>
void softmax_axis(const T* x, T* y, AxisView v) {
  // exp(x - max) / sum exp(x - max), not exp(x - logsumexp): when the logits are large (say
  // -1e6 in f32) logsumexp is rounded to a multiple of their ulp, and exp(x - lse) then misses
  // the normalisation by several percent. x - max is exact for the entries that matter.
  std::vector<T> m(static_cast<std::size_t>(v.outer * v.inner));
  std::vector<T> total(m.size(), T(0));
  max_axis(x, m.data(), v);
  for (std::int64_t o = 0; o < v.outer; ++o)
    for (std::int64_t k = 0; k < v.len; ++k) {
      const std::int64_t base = (o * v.len + k) * v.inner;
      for (std::int64_t j = 0; j < v.inner; ++j) {
        const T e = std::exp(x[base + j] - m[o * v.inner + j]);
        y[base + j] = e;
        total[o * v.inner + j] += e;
      }
    }
  for (std::int64_t o = 0; o < v.outer; ++o)
    for (std::int64_t k = 0; k < v.len; ++k) {
      const std::int64_t base = (o * v.len + k) * v.inner;
      for (std::int64_t j = 0; j < v.inner; ++j) y[base + j] /= total[o * v.inner + j];
    }
}

#define FLOWTAPE_INSTANTIATE(T)                            \
  template void sum_axis<T>(const T*, T*, AxisView);       \
  template void max_axis<T>(const T*, T*, AxisView);       \
  template void logsumexp_axis<T>(const T*, T*, AxisView); \
  template void softmax_axis<T>(const T*, T*, AxisView);
FLOWTAPE_INSTANTIATE(float)
FLOWTAPE_INSTANTIATE(double)
#undef FLOWTAPE_INSTANTIATE

}  // namespace flowtape::kernels::cpu
