// SPDX-License-Identifier: MIT
// Philox-4x32-10 samplers on the device, giving the numbers flowtape::Generator gives on the
// CPU for the same (key, stream) and starting block counter: block b (counter + b) fills
// uniform f32 elements 4b..4b+3, uniform f64 and normal elements 2b and 2b+1, exactly the
// CPU's consumption order. Uniforms are bit-identical (integer arithmetic); normals use
// Box-Muller in double, and the device's log/sin/cos may differ from glibc's in the last
// ulp, so f64 normals agree to ~1e-15 relative and f32 normals almost always exactly.
#pragma once

#include <cstdint>

namespace flowtape::kernels::cuda {

// Blocks consumed by n samples (what the caller advances the Generator's counter by).
inline std::uint64_t philox_blocks_uniform_f32(std::int64_t n) {
  return (static_cast<std::uint64_t>(n) + 3) / 4;
}
inline std::uint64_t philox_blocks_pairs(std::int64_t n) {
  return (static_cast<std::uint64_t>(n) + 1) / 2;
}

template <class T>  // [0, 1)
void philox_uniform(T* y, std::int64_t n, std::uint64_t key, std::uint64_t counter,
                    std::uint64_t stream);
template <class T>  // N(0, 1)
void philox_normal(T* y, std::int64_t n, std::uint64_t key, std::uint64_t counter,
                   std::uint64_t stream);

}  // namespace flowtape::kernels::cuda
