// What the GEMM's two families of kernels share (gemm.cpp's packed tiles, gemm_thin.cpp's
// kernels for a dimension of at most 4): the k blocking, the scratch buffers, and how a
// finished dot product is combined with beta C and the bias and stored. Every path stores
// through store_batch / store_scalar and accumulates in the same order, one FMA chain per
// element restarted at each KC block, so the thin kernels give the tiles' bits.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/simd.hpp"

namespace flowtape::kernels::cpu::gemm_detail {

template <class T>
struct Blocking {
  static constexpr std::int64_t W = kWidth<T>;
  static constexpr std::int64_t MR = 6;  // rows of a tile: 6 x 2 accumulators + 3 = 15 registers
  static constexpr std::int64_t NR = 2 * W;  // columns of a tile: two SIMD registers
  static constexpr std::int64_t KC = 256;
  static constexpr std::int64_t MC = MR * (sizeof(T) == 4 ? 24 : 16);
  static constexpr std::int64_t NC = NR * 128;
};

// A per-thread, 64-byte aligned scratch buffer that only grows; `which` picks one of three.
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
template <class T>
inline void store_batch(T* dst, Batch<T> scaled, T beta, const T* bias) {
  using B = Batch<T>;
  if (beta != T(0)) scaled = xsimd::fma(B(beta), B::load_unaligned(dst), scaled);
  if (bias) scaled += B::load_unaligned(bias);
  scaled.store_unaligned(dst);
}

// The same for one element: the same operations (an explicit fma, as in store_batch), so an
// element on a ragged edge gets the bits it would get inside a full batch.
template <class T>
inline void store_scalar(T& dst, T scaled, T beta, const T* bias) {
  if (beta != T(0)) scaled = std::fma(beta, dst, scaled);
  if (bias) scaled += *bias;
  dst = scaled;
}

}  // namespace flowtape::kernels::cpu::gemm_detail
