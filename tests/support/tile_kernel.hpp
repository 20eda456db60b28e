// SPDX-License-Identifier: MIT
// Sets the GEMM's tile kernel for a scope and puts the automatic choice back however the scope
// ends, so a failing test cannot leave the suites after it on another kernel.
#pragma once

#include <string>
#include <vector>

#include "flowtape/kernels/cpu/gemm_kernels.hpp"

namespace flowtape::test {

struct ScopedTileKernel {
  explicit ScopedTileKernel(const std::string& name) { kernels::cpu::set_tile_kernel(name); }
  ~ScopedTileKernel() { kernels::cpu::set_tile_kernel("auto"); }
  ScopedTileKernel(const ScopedTileKernel&) = delete;
  ScopedTileKernel& operator=(const ScopedTileKernel&) = delete;
};

// The tile kernels this build has and this CPU runs.
inline std::vector<kernels::cpu::TileKernel> runnable_tile_kernels() {
  std::vector<kernels::cpu::TileKernel> out;
  for (const auto& k : kernels::cpu::tile_kernels())
    if (k.runs_here) out.push_back(k);
  return out;
}

}  // namespace flowtape::test
