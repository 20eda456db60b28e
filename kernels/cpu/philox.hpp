// Philox-4x32-10 (Salmon et al., SC'11) on one block, and on a run of consecutive counters
// eight blocks to a SIMD register. The Generator draws every batch of random numbers through
// philox_run; one block at a time it was 13.6 ns a block, most of a small training step's
// sampling (bench/flow_bench: ~1100 blocks a step at batch 256).
//
// The vector path needs 32 x 32 -> 64-bit lane multiplies, which xsimd does not offer, so it
// is written with AVX2 intrinsics and compiled only where the target has AVX2; elsewhere the
// run is the scalar loop. Both give the same bits (the tests compare them over counters that
// cross a 2^32 boundary).
#pragma once

#include <array>
#include <cstdint>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace flowtape::kernels::cpu {

using PhiloxBlock = std::array<std::uint32_t, 4>;

namespace philox_detail {
// The round multipliers and the Weyl key increments of Philox-4x32.
inline constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
inline constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
inline constexpr int kRounds = 10;
}  // namespace philox_detail

// The Philox-4x32-10 bijection of one 128-bit counter under a 64-bit key.
inline PhiloxBlock philox4x32(PhiloxBlock c, std::uint64_t key) {
  using namespace philox_detail;
  std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < kRounds; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * c[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * c[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c = {hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0};
    k0 += kW0;
    k1 += kW1;
  }
  return c;
}

// The block of counter (n, stream): words n_lo, n_hi, stream_lo, stream_hi.
inline PhiloxBlock philox_block(std::uint64_t key, std::uint64_t n, std::uint64_t stream) {
  return philox4x32({static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(n >> 32),
                     static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)},
                    key);
}

#if defined(__AVX2__)
namespace philox_detail {

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

inline void round(Lanes& s, __m256i k0, __m256i k1) {
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

}  // namespace philox_detail
#endif

// out[i] = philox_block(key, n + i, stream) for i < count.
inline void philox_run(std::uint64_t key, std::uint64_t n, std::uint64_t stream, PhiloxBlock* out,
                       std::int64_t count) {
  std::int64_t i = 0;
#if defined(__AVX2__)
  using namespace philox_detail;
  // Two independent groups per pass: one group's rounds are a chain of dependent multiplies,
  // and the second fills the multiplier's latency.
  for (; i + 16 <= count; i += 16) {
    const auto at = static_cast<std::uint64_t>(i);
    Lanes a = start(n + at, stream), b = start(n + at + 8, stream);
    std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
    for (int r = 0; r < kRounds; ++r) {
      const __m256i vk0 = _mm256_set1_epi32(static_cast<int>(k0));
      const __m256i vk1 = _mm256_set1_epi32(static_cast<int>(k1));
      round(a, vk0, vk1);
      round(b, vk0, vk1);
      k0 += kW0;
      k1 += kW1;
    }
    store(a, out + i);
    store(b, out + i + 8);
  }
  for (; i + 8 <= count; i += 8) {
    Lanes a = start(n + static_cast<std::uint64_t>(i), stream);
    std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
    for (int r = 0; r < kRounds; ++r) {
      round(a, _mm256_set1_epi32(static_cast<int>(k0)), _mm256_set1_epi32(static_cast<int>(k1)));
      k0 += kW0;
      k1 += kW1;
    }
    store(a, out + i);
  }
#endif
  for (; i < count; ++i) out[i] = philox_block(key, n + static_cast<std::uint64_t>(i), stream);
}

}  // namespace flowtape::kernels::cpu
