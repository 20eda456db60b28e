// SPDX-License-Identifier: MIT
// What the GEMM's two families of kernels share (gemm.cpp's packed tiles, gemm_thin.cpp's
// kernels for a dimension of at most 4): the k blocking, the scratch buffers, and how a
// finished dot product is combined with beta C and the bias and stored. Every kernel but the
// k = 0 case stores through store_batch / store_scalar, and all but gemm_thin's dot-product
// kernel accumulate in the same order (one FMA chain per element, restarted at each KC
// block), so the thin kernels give the tiles' bits. gemm.cpp and gemm_thin.cpp are compiled
// with -ffp-contract=off, so that the compiler cannot fuse a multiply and an add in one
// kernel and not in another.
#pragma once

#include <cstddef>
#include <cstdint>

#include "flowtape/kernels/cpu/simd.hpp"

namespace flowtape::kernels::cpu::gemm_detail {

// The k blocking, shared by every kernel: each element of C is one FMA chain over p restarted
// at each block of kKC, so a kernel's tile shape and vector width never change its bits, but
// this does. The tiles' other blocking (rows and columns of a tile, of a packed block and of
// a packed panel) depends on the kernel, which gemm_kernels.hpp chooses per CPU at run time.
inline constexpr std::int64_t kKC = 256;

// A per-thread, 64-byte aligned scratch buffer that only grows; `which` picks one of two. The
// tiles pack op(B) into 0 and op(A) into 1; a thin kernel uses 0 (the two never run at once
// on one thread).
void* scratch_bytes(int which, std::size_t bytes);

template <class T>
T* scratch(int which, std::size_t count) {
  return static_cast<T*>(scratch_bytes(which, count * sizeof(T)));
}

// The tiled GEMM alone, on one thread, without the thin kernels; k > 0. gemm() uses it when no
// thin kernel fits; tests compare the thin kernels with it bit for bit.
template <class T>
void gemm_tiled(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
                const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
                std::int64_t ldc, const T* bias);

// dst[0, W) = scaled + beta dst (dst unread when beta = 0) + bias[0, W) (when bias is given),
// where scaled = alpha times the accumulated dot products.
// B is any xsimd batch of T: the kernels of every vector width store through these.
template <class B, class T = typename B::value_type>
inline void store_batch(T* dst, B scaled, T beta, const T* bias) {
  if (beta != T(0)) scaled = fmadd(B(beta), B::load_unaligned(dst), scaled);
  if (bias) scaled += B::load_unaligned(bias);
  scaled.store_unaligned(dst);
}

// The same for one element, through the same batch operations (a one-lane use of a batch):
// where the target has no FMA instruction, fmadd is a rounded multiply and add, while
// std::fma would still be fused, so an element on a ragged edge could differ from one inside
// a full batch.
template <class T>
inline void store_scalar(T& dst, T scaled, T beta, const T* bias) {
  using B = Batch<T>;
  if (beta != T(0)) scaled = fmadd(B(beta), B(dst), B(scaled)).get(0);
  if (bias) scaled += *bias;
  dst = scaled;
}

// Stores elements [0, count) (count <= 2W) of a chunk of one row of C from two batches of
// alpha-scaled sums: whole batches through store_batch, a ragged chunk element by element.
template <class B, class T = typename B::value_type>
inline void store_pair(T* dst, std::int64_t count, B lo, B hi, T beta, const T* bias) {
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  if (count == 2 * W) {
    store_batch(dst, lo, beta, bias);
    store_batch(dst + W, hi, beta, bias ? bias + W : nullptr);
    return;
  }
  alignas(64) T tmp[2 * W];
  lo.store_aligned(tmp);
  hi.store_aligned(tmp + W);
  for (std::int64_t q = 0; q < count; ++q)
    store_scalar(dst[q], tmp[q], beta, bias ? bias + q : nullptr);
}

// Later k-blocks accumulate onto C, which already holds beta C and the bias: block pc's beta
// and bias.
template <class T>
inline T block_beta(std::int64_t pc, T beta) {
  return pc == 0 ? beta : T(1);
}
template <class T>
inline const T* block_bias(std::int64_t pc, const T* bias) {
  return pc == 0 ? bias : nullptr;
}

}  // namespace flowtape::kernels::cpu::gemm_detail
