// SPDX-License-Identifier: MIT
// Philox-4x32-10 on AVX2 lanes (see philox.hpp). In a source file of its own so that the
// intrinsics and their #if live in one translation unit: an inline definition whose body
// depended on __AVX2__ would break the one-definition rule across differently built units.
#include "flowtape/kernels/cpu/philox.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace flowtape::kernels::cpu {

#if defined(__AVX2__)
namespace {

using philox_detail::kM0;
using philox_detail::kM1;

// Eight blocks, word w of block i in lane i of c[w].
struct Lanes {
  __m256i c[4];
};

// The high and low 32 bits of a * m in each lane (m holds the multiplier in every lane).
// _mm256_mul_epu32 multiplies the even lanes; the odd lanes are shifted down to be multiplied.
inline void mul_hi_lo(__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

inline void philox_round(Lanes& s, __m256i k0, __m256i k1) {
  __m256i hi0, lo0, hi1, lo1;
  mul_hi_lo(s.c[0], _mm256_set1_epi32(static_cast<int>(kM0)), hi0, lo0);
  mul_hi_lo(s.c[2], _mm256_set1_epi32(static_cast<int>(kM1)), hi1, lo1);
  s.c[0] = _mm256_xor_si256(_mm256_xor_si256(hi1, s.c[1]), k0);
  s.c[1] = lo1;
  s.c[2] = _mm256_xor_si256(_mm256_xor_si256(hi0, s.c[3]), k1);
  s.c[3] = lo0;
}

// The counters (n + i, stream) of blocks i = 0..7.
inline Lanes start(std::uint64_t n, std::uint64_t stream) {
  alignas(32) std::uint32_t lo[8], hi[8];
  for (int i = 0; i < 8; ++i) {
    const std::uint64_t ni = n + static_cast<std::uint64_t>(i);
    lo[i] = static_cast<std::uint32_t>(ni);
    hi[i] = static_cast<std::uint32_t>(ni >> 32);
  }
  return {{_mm256_load_si256(reinterpret_cast<const __m256i*>(lo)),
           _mm256_load_si256(reinterpret_cast<const __m256i*>(hi)),
           _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream))),
           _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream >> 32)))}};
}

// Writes the eight blocks in order (a 4 x 8 transpose of 32-bit words).
inline void store(const Lanes& s, PhiloxBlock* out) {
  const __m256i t0 = _mm256_unpacklo_epi32(s.c[0], s.c[1]);  // words 0,1 of blocks 0,1 | 4,5
  const __m256i t1 = _mm256_unpackhi_epi32(s.c[0], s.c[1]);  // blocks 2,3 | 6,7
  const __m256i t2 = _mm256_unpacklo_epi32(s.c[2], s.c[3]);  // words 2,3 of blocks 0,1 | 4,5
  const __m256i t3 = _mm256_unpackhi_epi32(s.c[2], s.c[3]);
  const __m256i b04 = _mm256_unpacklo_epi64(t0, t2), b15 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i b26 = _mm256_unpacklo_epi64(t1, t3), b37 = _mm256_unpackhi_epi64(t1, t3);
  auto* p = reinterpret_cast<__m256i*>(out);
  _mm256_storeu_si256(p + 0, _mm256_permute2x128_si256(b04, b15, 0x20));
  _mm256_storeu_si256(p + 1, _mm256_permute2x128_si256(b26, b37, 0x20));
  _mm256_storeu_si256(p + 2, _mm256_permute2x128_si256(b04, b15, 0x31));
  _mm256_storeu_si256(p + 3, _mm256_permute2x128_si256(b26, b37, 0x31));
}

// Blocks n + i, i < 8 G, in G groups of eight whose rounds are interleaved: one group's rounds
// are a chain of dependent multiplies, and a second group fills the multiplier's latency.
template <int G>
inline void run_groups(std::uint64_t key, std::uint64_t n, std::uint64_t stream, PhiloxBlock* out) {
  using philox_detail::kRounds;
  using philox_detail::kW0;
  using philox_detail::kW1;
  Lanes s[G];
  for (int g = 0; g < G; ++g) s[g] = start(n + 8 * static_cast<std::uint64_t>(g), stream);
  std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
  for (int r = 0; r < kRounds; ++r) {
    const __m256i vk0 = _mm256_set1_epi32(static_cast<int>(k0));
    const __m256i vk1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (int g = 0; g < G; ++g) philox_round(s[g], vk0, vk1);
    k0 += kW0;
    k1 += kW1;
  }
  for (int g = 0; g < G; ++g) store(s[g], out + 8 * g);
}

}  // namespace
#endif

void philox_run(std::uint64_t key, std::uint64_t n, std::uint64_t stream, PhiloxBlock* out,
                std::int64_t count) {
  std::int64_t i = 0;
#if defined(__AVX2__)
  for (; i + 16 <= count; i += 16)
    run_groups<2>(key, n + static_cast<std::uint64_t>(i), stream, out + i);
  for (; i + 8 <= count; i += 8)
    run_groups<1>(key, n + static_cast<std::uint64_t>(i), stream, out + i);
#endif
  for (; i < count; ++i) out[i] = philox_block(key, n + static_cast<std::uint64_t>(i), stream);
}

}  // namespace flowtape::kernels::cpu
