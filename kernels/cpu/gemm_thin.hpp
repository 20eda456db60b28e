// SPDX-License-Identifier: MIT
// GEMMs with a dimension of at most 4, the shapes an MLP's first and last layers make: a
// 2-D input (k = 3 with time), a 2-D velocity (n = 2), and their weight gradients (m or n =
// 2 or 3, k = batch). The tiled kernel pads such a dimension to its 6 x 16 register tile and
// spends most of its time on the padding; these kernels keep the thin dimension whole in
// registers instead (5 to 8 times faster at batch 256, width 64).
#pragma once

#include <cstdint>

namespace flowtape::kernels::cpu::gemm_detail {

// The largest dimension the thin kernels take.
inline constexpr std::int64_t kThin = 4;

// Computes C = alpha op(A) op(B) + beta C + 1 bias^T as gemm() does, and returns true, when a
// thin kernel fits the shape: k <= kThin, n <= kThin, or m <= kThin with op(B) = B (m <= kThin
// with op(B) = B^T is left to the tiles). Returns false, touching nothing, otherwise. Requires
// k > 0. Bit-identical to the tiled kernel, except where n <= kThin, k > kThin and op(A) = A:
// each element is then a dot product along the rows of A, summed across SIMD lanes.
template <class T>
bool gemm_thin(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
               const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
               std::int64_t ldc, const T* bias);

}  // namespace flowtape::kernels::cpu::gemm_detail
