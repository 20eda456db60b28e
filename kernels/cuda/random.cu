// SPDX-License-Identifier: MIT
// Device Philox-4x32-10 (see random.hpp). The bijection and the bits-to-float conversions
// are transcriptions of runtime/random.cpp; keep the two in step.
#include <cstdint>

#include "flowtape/kernels/cuda/launch.cuh"
#include "flowtape/kernels/cuda/random.hpp"

namespace flowtape::kernels::cuda {

namespace {

struct Block {
  std::uint32_t w[4];
};

__device__ inline Block philox(std::uint64_t n, std::uint64_t stream, std::uint64_t key) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  std::uint32_t c0 = static_cast<std::uint32_t>(n), c1 = static_cast<std::uint32_t>(n >> 32);
  std::uint32_t c2 = static_cast<std::uint32_t>(stream),
                c3 = static_cast<std::uint32_t>(stream >> 32);
  std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    const std::uint32_t hi0 = __umulhi(kM0, c0), lo0 = kM0 * c0;
    const std::uint32_t hi1 = __umulhi(kM1, c2), lo1 = kM1 * c2;
    const std::uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return Block{{c0, c1, c2, c3}};
}

__device__ inline float to_unit_f32(std::uint32_t w) {
  return static_cast<float>(w >> 8) * 0x1.0p-24f;
}
__device__ inline double to_unit_f64(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = ((static_cast<std::uint64_t>(hi) << 32) | lo) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}

// Written as separate roundings (no fused multiply-add) to follow the CPU's evaluation:
// __dmul_rn / __dadd_rn are never contracted by the compiler.
__device__ inline void box_muller(double u1, double u2, double& z0, double& z1) {
  const double r = sqrt(__dmul_rn(-2.0, log(__dadd_rn(1.0, -u1))));
  const double a = __dmul_rn(2.0 * 3.14159265358979323846, u2);
  z0 = __dmul_rn(r, cos(a));
  z1 = __dmul_rn(r, sin(a));
}

// One thread per Philox block.
template <class T>
__global__ void uniform_kernel(T* y, std::int64_t n, std::uint64_t key, std::uint64_t counter,
                               std::uint64_t stream, std::int64_t blocks) {
  FLOWTAPE_GRID_STRIDE(b, blocks) {
    const Block r = philox(counter + static_cast<std::uint64_t>(b), stream, key);
    if constexpr (sizeof(T) == 4) {
      for (int j = 0; j < 4; ++j)
        if (4 * b + j < n) y[4 * b + j] = to_unit_f32(r.w[j]);
    } else {
      y[2 * b] = to_unit_f64(r.w[0], r.w[1]);
      if (2 * b + 1 < n) y[2 * b + 1] = to_unit_f64(r.w[2], r.w[3]);
    }
  }
}

template <class T>
__global__ void normal_kernel(T* y, std::int64_t n, std::uint64_t key, std::uint64_t counter,
                              std::uint64_t stream, std::int64_t blocks) {
  FLOWTAPE_GRID_STRIDE(b, blocks) {
    const Block r = philox(counter + static_cast<std::uint64_t>(b), stream, key);
    double z0, z1;
    box_muller(to_unit_f64(r.w[0], r.w[1]), to_unit_f64(r.w[2], r.w[3]), z0, z1);
    y[2 * b] = static_cast<T>(z0);
    if (2 * b + 1 < n) y[2 * b + 1] = static_cast<T>(z1);
  }
}

}  // namespace

template <class T>
void philox_uniform(T* y, std::int64_t n, std::uint64_t key, std::uint64_t counter,
                    std::uint64_t stream) {
  if (n == 0) return;
  const auto blocks = static_cast<std::int64_t>(sizeof(T) == 4 ? philox_blocks_uniform_f32(n)
                                                               : philox_blocks_pairs(n));
  uniform_kernel<T><<<grid_for(blocks), kThreads>>>(y, n, key, counter, stream, blocks);
  check_launch("philox uniform kernel");
}

template <class T>
void philox_normal(T* y, std::int64_t n, std::uint64_t key, std::uint64_t counter,
                   std::uint64_t stream) {
  if (n == 0) return;
  const auto blocks = static_cast<std::int64_t>(philox_blocks_pairs(n));
  normal_kernel<T><<<grid_for(blocks), kThreads>>>(y, n, key, counter, stream, blocks);
  check_launch("philox normal kernel");
}

template void philox_uniform<float>(float*, std::int64_t, std::uint64_t, std::uint64_t,
                                    std::uint64_t);
template void philox_uniform<double>(double*, std::int64_t, std::uint64_t, std::uint64_t,
                                     std::uint64_t);
template void philox_normal<float>(float*, std::int64_t, std::uint64_t, std::uint64_t,
                                   std::uint64_t);
template void philox_normal<double>(double*, std::int64_t, std::uint64_t, std::uint64_t,
                                    std::uint64_t);

}  // namespace flowtape::kernels::cuda
