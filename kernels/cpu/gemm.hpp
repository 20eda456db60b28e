// SPDX-License-Identifier: MIT
// General matrix multiply on row-major buffers: C = alpha * op(A) op(B) + beta * C, where
// op(X) is X or its transpose (what a matmul's backward pass needs). Packed and
// register-blocked; see gemm.cpp for the blocking.
#pragma once

#include <cstdint>

namespace flowtape::kernels::cpu {

// op(A) is m x k: A is stored m x k with row stride lda, or k x m when trans_a.
// op(B) is k x n: B is stored k x n with row stride ldb, or n x k when trans_b.
// When beta == 0, C is not read (it may hold garbage).
// bias, when given, is a row of n values added to every row of C as the tiles are stored:
// C = alpha op(A) op(B) + beta C + 1 bias^T, the affine layer's epilogue, which saves a pass
// that would first fill C with the bias rows.
template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc, const T* bias = nullptr);

// The plain triple loop, for tests and as the definition of what gemm computes. With k = 0
// the product is the zero matrix and alpha is not applied (as in BLAS, so alpha = NaN leaves
// C = beta C), and a bias is stored, not added to a zero (so a -0 bias stays -0, as the affine
// layer's fill-then-accumulate form gave).
template <class T>
void gemm_reference(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                    T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta,
                    T* c, std::int64_t ldc, const T* bias = nullptr) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      if (k <= 0) {
        T& dst = c[i * ldc + j];
        const T kept = beta == T(0) ? T(0) : beta * dst;
        dst = bias ? (beta == T(0) ? bias[j] : kept + bias[j]) : kept;
        continue;
      }
      T acc = 0;
      for (std::int64_t p = 0; p < k; ++p) {
        const T av = trans_a ? a[p * lda + i] : a[i * lda + p];
        const T bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        acc += av * bv;
      }
      c[i * ldc + j] = beta == T(0) ? alpha * acc : alpha * acc + beta * c[i * ldc + j];
      if (bias) c[i * ldc + j] += bias[j];
    }
}

}  // namespace flowtape::kernels::cpu
