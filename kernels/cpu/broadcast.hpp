// SPDX-License-Identifier: MIT
// NumPy broadcasting for N-ary elementwise kernels. A plan maps every input onto the output's
// index space with stride 0 along broadcast dimensions, then merges adjacent dimensions that
// stay contiguous for every operand, so most calls end as one flat loop.
#pragma once

#include <array>
#include <cstdint>

namespace flowtape::kernels::cpu {

inline constexpr int kMaxRank = 8;

template <std::size_t N>
struct BroadcastPlan {
  int rank = 0;                                  // after merging; the last dimension is the inner loop
  std::array<std::int64_t, kMaxRank> shape{};    // output extents
  std::array<std::array<std::int64_t, kMaxRank>, N> stride{};  // element strides per input
};

// out_shape has out_rank entries; input i has in_rank[i] entries, right-aligned against the
// output (the shape rule has already checked they broadcast).
template <std::size_t N>
BroadcastPlan<N> plan_broadcast(const std::int64_t* out_shape, int out_rank,
                                const std::array<const std::int64_t*, N>& in_shape,
                                const std::array<int, N>& in_rank) {
  BroadcastPlan<N> full;
  full.rank = out_rank;
  for (std::size_t k = 0; k < N; ++k) {
    std::int64_t s = 1;
    for (int d = out_rank - 1; d >= 0; --d) {
      const int id = d - (out_rank - in_rank[k]);
      const std::int64_t extent = id >= 0 ? in_shape[k][id] : 1;
      full.stride[k][d] = (extent == 1) ? 0 : s;
      s *= extent;
    }
  }
  for (int d = 0; d < out_rank; ++d) full.shape[d] = out_shape[d];

  // Merge dimension d into d+1 when, for every input, stepping d equals stepping d+1 across
  // its whole extent. Size-1 output dimensions are dropped.
  BroadcastPlan<N> p;
  p.rank = 0;
  for (int d = 0; d < out_rank; ++d) {
    if (full.shape[d] == 1) continue;
    bool merge = p.rank > 0;
    for (std::size_t k = 0; k < N && merge; ++k) {
      const int q = p.rank - 1;
      merge = p.stride[k][q] == full.stride[k][d] * full.shape[d];
    }
    if (merge) {
      const int q = p.rank - 1;
      p.shape[q] *= full.shape[d];
      for (std::size_t k = 0; k < N; ++k) p.stride[k][q] = full.stride[k][d];
    } else {
      p.shape[p.rank] = full.shape[d];
      for (std::size_t k = 0; k < N; ++k) p.stride[k][p.rank] = full.stride[k][d];
      ++p.rank;
    }
  }
  if (p.rank == 0) {  // a scalar result
    p.rank = 1;
    p.shape[0] = 1;
    for (std::size_t k = 0; k < N; ++k) p.stride[k][0] = 0;
  }
  return p;
}

// Calls row(offsets, out_offset, n, inner_strides) once per inner row of the plan, where
// offsets[k] is input k's element offset of the row start; never for an empty result (an
// outer extent of 0 left by a broadcast input must not let the first row through).
template <std::size_t N, class Row>
void for_each_row(const BroadcastPlan<N>& p, Row&& row) {
  for (int d = 0; d < p.rank; ++d)
    if (p.shape[d] == 0) return;
  const int outer_rank = p.rank - 1;
  const std::int64_t n = p.shape[p.rank - 1];
  std::array<std::int64_t, N> inner{};
  for (std::size_t k = 0; k < N; ++k) inner[k] = p.stride[k][p.rank - 1];
  std::array<std::int64_t, kMaxRank> idx{};
  std::array<std::int64_t, N> off{};
  std::int64_t out_off = 0;
  while (true) {
    row(off, out_off, n, inner);
    out_off += n;
    int d = outer_rank - 1;
    for (; d >= 0; --d) {
      ++idx[d];
      for (std::size_t k = 0; k < N; ++k) off[k] += p.stride[k][d];
      if (idx[d] < p.shape[d]) break;
      for (std::size_t k = 0; k < N; ++k) off[k] -= p.stride[k][d] * p.shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

}  // namespace flowtape::kernels::cpu
