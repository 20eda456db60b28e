// SPDX-License-Identifier: MIT
// Sets the GEMM's tile kernel for a scope and puts the one before it back however the scope
// ends, so a failing test cannot leave the suites after it on another kernel (and a run with
// FLOWTAPE_GEMM_KERNEL set stays on the kernel it names).
#pragma once

#include <string>
#include <vector>

#include "flowtape/kernels/cpu/gemm_kernels.hpp"

namespace flowtape::test {

struct ScopedTileKernel {
  explicit ScopedTileKernel(const std::string& name) : previous_(kernels::cpu::tile_kernel().name) {
    kernels::cpu::set_tile_kernel(name);
  }
  ~ScopedTileKernel() { kernels::cpu::set_tile_kernel(previous_); }
  ScopedTileKernel(const ScopedTileKernel&) = delete;
  ScopedTileKernel& operator=(const ScopedTileKernel&) = delete;

 private:
  std::string previous_;
};

// The tile kernels this build has and this CPU runs.
inline std::vector<kernels::cpu::TileKernel> runnable_tile_kernels() {
  std::vector<kernels::cpu::TileKernel> out;
  for (const auto& k : kernels::cpu::tile_kernels())
    if (k.runs_here) out.push_back(k);
  return out;
}

}  // namespace flowtape::test
