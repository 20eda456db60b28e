// SPDX-License-Identifier: MIT
// Philox-4x32-10 (Salmon et al., SC'11) on one block, and on a run of consecutive counters
// eight blocks to a SIMD register. The Generator draws every batch of random numbers through
// philox_run; one block at a time it was 13.6 ns a block, most of a small training step's
// sampling (bench/flow_bench: ~1100 blocks a step at batch 256).
//
// The vector path (philox.cpp) needs 32 x 32 -> 64-bit lane multiplies, which xsimd does not
// offer, so it is written with AVX2 intrinsics and compiled only where the target has AVX2;
// elsewhere the run is the scalar loop. Both give the same bits (the tests compare them over
// counters that cross a 2^32 boundary).
#pragma once

#include <array>
#include <cstdint>

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

// out[i] = philox_block(key, n + i, stream) for i < count.
void philox_run(std::uint64_t key, std::uint64_t n, std::uint64_t stream, PhiloxBlock* out,
                std::int64_t count);

}  // namespace flowtape::kernels::cpu
