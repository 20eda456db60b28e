// SPDX-License-Identifier: MIT
// Launch helpers shared by the .cu files of kernels/cuda (not a public header).
#pragma once

#include <cstdint>

#include "flowtape/kernels/cuda/runtime.hpp"

namespace flowtape::kernels::cuda {

constexpr int kThreads = 256;

// Grid for a grid-stride loop over n items: enough blocks to fill the device, capped so the
// launch stays valid for any n (the loop covers the rest).
inline unsigned grid_for(std::int64_t n) {
  const std::int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

#define FLOWTAPE_GRID_STRIDE(i, n)                                                                 \
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<std::int64_t>(blockDim.x) * gridDim.x)

}  // namespace flowtape::kernels::cuda
