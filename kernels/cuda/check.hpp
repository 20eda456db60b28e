// SPDX-License-Identifier: MIT
// Error checking for CUDA runtime and cuBLAS calls inside kernels/cuda (not a public header).
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace flowtape::kernels::cuda {

// Throws for an error, first clearing it as the runtime's last error: check_launch reads that
// after every kernel, and a caught failure (an allocation too large) must not be reported
// again by the next, unrelated launch. Sticky errors (a kernel fault) stay, as they must.
inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    throw std::runtime_error(std::string("flowtape cuda: ") + what + ": " + cudaGetErrorName(e) +
                             " (" + cudaGetErrorString(e) + ")");
  }
}

}  // namespace flowtape::kernels::cuda
