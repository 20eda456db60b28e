// SPDX-License-Identifier: MIT
// SIMD vocabulary shared by the CPU kernels: the batch type for the instruction set this
// translation unit is compiled for, and loaders that handle ragged tails.
#pragma once

// GCC 12's AVX-512 intrinsic headers initialise "undefined" vectors from themselves
// (_mm512_undefined_epi32 and kin), which -Wuninitialized and -Wmaybe-uninitialized report in
// every function that inlines them: hundreds of warnings in an AVX-512 build, none of them ours
// (GCC bug 105593, fixed in GCC 13). The warnings are located in those headers, so ignoring the
// two warnings while they are read silences them there (and anything else these two warnings
// would say about xsimd's own code), never in flowtape's.
// <immintrin.h> comes first so that this is where it is read, whatever includes it later.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#include <xsimd/xsimd.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace flowtape::kernels::cpu {

template <class T>
using Batch = xsimd::batch<T>;

template <class T>
inline constexpr std::int64_t kWidth = static_cast<std::int64_t>(Batch<T>::size);

// Loads the first n (< width) values of p into a batch padded with `fill`. Tails go through
// the same vector code as full batches so that an element's result never depends on its
// position in the buffer.
template <class T>
inline Batch<T> load_partial(const T* p, std::int64_t n, T fill = T(0)) {
  alignas(64) T tmp[Batch<T>::size];
  for (std::int64_t i = 0; i < kWidth<T>; ++i) tmp[i] = i < n ? p[i] : fill;
  return Batch<T>::load_aligned(tmp);
}

template <class T>
inline void store_partial(const Batch<T>& b, T* p, std::int64_t n) {
  alignas(64) T tmp[Batch<T>::size];
  b.store_aligned(tmp);
  for (std::int64_t i = 0; i < n; ++i) p[i] = tmp[i];
}

// x * y + z rounded once, one instruction, wherever the target has FMA. The GEMM's kernels
// use it for every multiply-add, which is what makes their bits the same on any vector width.
// xsimd 8's own fma has no AVX-512 kernel: for 512-bit batches it falls back to x * y + z,
// two roundings (and two instructions under gemm.cpp's -ffp-contract=off), so AVX-512 builds
// computed other bits than AVX2 ones until this called the intrinsic.
template <class T, class A>
inline xsimd::batch<T, A> fmadd(xsimd::batch<T, A> x, xsimd::batch<T, A> y, xsimd::batch<T, A> z) {
#if defined(__AVX512F__)
  if constexpr (std::is_base_of_v<xsimd::avx512f, A> && std::is_same_v<T, float>)
    return _mm512_fmadd_ps(x, y, z);
  if constexpr (std::is_base_of_v<xsimd::avx512f, A> && std::is_same_v<T, double>)
    return _mm512_fmadd_pd(x, y, z);
#endif
  return xsimd::fma(x, y, z);
}

// b as computed, an opaque value to the optimiser: an expression that uses it cannot fuse b's
// last multiply into a fused multiply-add (GCC contracts a * b + c by default in C++). A fused
// kernel that adds values the separate maps stored, and so rounded, puts its terms through
// this to keep their bits. Costs no instruction where the register constraint is known.
template <class B>
inline B rounded(B b) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  typename B::register_type r = b;
  asm("" : "+v"(r));
  return B(r);
#elif defined(__GNUC__) && defined(__aarch64__)
  typename B::register_type r = b;
  asm("" : "+w"(r));
  return B(r);
#elif defined(__GNUC__)
  asm("" : "+m"(b));  // through memory, where the register constraint is not known
  return b;
#else
  return b;  // no barrier known for this compiler: a contraction would change the last bit
#endif
}

}  // namespace flowtape::kernels::cpu
