// SPDX-License-Identifier: MIT
// Batched GEMM on row-major device buffers through cuBLAS: for b in [0, batch),
//   C_b = alpha * op(A_b) op(B_b) + beta * C_b,  X_b = X + b * stride_x,
// with the same conventions as kernels/cpu/gemm.hpp (op(A) is m x k: A stored m x k with row
// stride lda, or k x m when trans_a; likewise B). Asynchronous on the stream.
#pragma once

#include <cstdint>

namespace flowtape::kernels::cuda {

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, std::int64_t stride_a, const T* b, std::int64_t ldb,
          std::int64_t stride_b, T beta, T* c, std::int64_t ldc, std::int64_t stride_c,
          std::int64_t batch = 1);

// The affine layer, row-major: c [m, n] = x [m, k] w [n, k]^T + bias [n], through cuBLASLt
// with the bias added by the GEMM's epilogue (no separate pass over c). Returns false, having
// written nothing, when cuBLASLt does not support the case; the caller then broadcasts the
// bias into c and calls gemm with beta = 1.
template <class T>
bool gemm_bias(std::int64_t m, std::int64_t n, std::int64_t k, const T* x, const T* w,
               const T* bias, T* c);

}  // namespace flowtape::kernels::cuda
