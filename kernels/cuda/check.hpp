// SPDX-License-Identifier: MIT
// Error checking for CUDA runtime and cuBLAS calls inside kernels/cuda (not a public header).
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace flowtape::kernels::cuda {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("flowtape cuda: ") + what + ": " + cudaGetErrorName(e) +
                             " (" + cudaGetErrorString(e) + ")");
}

}  // namespace flowtape::kernels::cuda
