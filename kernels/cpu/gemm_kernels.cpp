// SPDX-License-Identifier: MIT
// The table of tile kernels this build compiled, the choice of one per CPU, and the setting
// (FLOWTAPE_GEMM_KERNEL, set_tile_kernel) that overrides it.
#include "flowtape/kernels/cpu/gemm_kernels.hpp"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "flowtape/kernels/cpu/cpu_info.hpp"
#include "flowtape/kernels/cpu/simd.hpp"

namespace flowtape::kernels::cpu {
namespace {

using gemm_detail::TileId;

// The kernels this build compiled, in the order tile_kernels() lists them, and the id
// gemm.cpp dispatches on for each.
struct Table {
  std::vector<TileKernel> kernels;
  std::vector<TileId> ids;
  void add(TileId id, TileKernel kernel) {
    ids.push_back(id);
    kernels.push_back(kernel);
  }
  int index_of(TileId id) const {
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (ids[i] == id) return static_cast<int>(i);
    return -1;
  }
};

Table make_table() {
  [[maybe_unused]] const CpuInfo& cpu = cpu_info();
  Table table;
#if FLOWTAPE_TILE_AVX512
  table.add(TileId::avx512_8x32, {"avx512-8x32", 512, 8, 32, cpu.avx512f});
#endif
#if FLOWTAPE_TILE_AVX2
  table.add(TileId::avx2_6x16, {"avx2-6x16", 256, 6, 16, cpu.avx2_fma});
#endif
#if !FLOWTAPE_TILE_AVX512 && !FLOWTAPE_TILE_AVX2
  // The target's own vectors; it runs wherever this build runs at all.
  static const std::string name =
      std::string(xsimd::default_arch::name()) + "-6x" + std::to_string(2 * Batch<float>::size);
  table.add(TileId::native_6, {name.c_str(), static_cast<int>(8 * sizeof(Batch<float>)), 6,
                               static_cast<int>(2 * Batch<float>::size), true});
#endif
  return table;
}

const Table& table() {
  static const Table t = make_table();
  return t;
}

struct Choice {
  int index;
  std::string reason;
};

// Which compiled kernel suits the CPU. The tile's shape is what differs: vectors of the width
// the FMA units execute whole, and enough rows to keep the FMA units busy from the registers
// (8 x 2 accumulators of AVX-512's 32, 6 x 2 of AVX2's 16).
Choice choose(const CpuInfo& cpu) {
  const auto found = [](TileId id) { return table().index_of(id); };
  const std::string on = cpu.describe() + ": ";
  if (cpu.avx512f && found(TileId::avx512_8x32) >= 0) {
    // Zen 4 runs a 512-bit operation as two 256-bit halves, so 256-bit vectors reach the same
    // FMA peak; and the 8 x 32 tile's packed slice of B (KC x 32 f32, 32 KiB) would fill its
    // 32 KiB L1 data cache, where the slice is meant to stay while slices of A stream past it
    // (Zen 5's L1 holds 48 KiB). Reported there: the 8 x 32 tile at 61-66% of the FMA peak.
    if (cpu.amd() && cpu.family == 0x19 && found(TileId::avx2_6x16) >= 0)
      return {found(TileId::avx2_6x16),
              on + "512-bit operations on a 256-bit datapath, and a 32 KiB L1 data cache"};
    return {found(TileId::avx512_8x32), on + "512-bit vectors, 32 vector registers"};
  }
  if (cpu.avx2_fma && found(TileId::avx2_6x16) >= 0)
    return {found(TileId::avx2_6x16),
            on + (cpu.avx512f ? "256-bit vectors (this build has no AVX-512 tile: see -march)"
                              : "256-bit vectors, 16 vector registers")};
  if (found(TileId::native_6) >= 0)
    return {found(TileId::native_6), on + "the build's own vectors (no AVX2 tile compiled)"};
  // Every compiled kernel needs instructions this CPU lacks; so does the rest of the build.
  return {0, on + "lacks the instructions this build was compiled for"};
}

const Choice& default_choice() {
  static const Choice c = choose(cpu_info());
  return c;
}

std::string usable_names() {
  std::string s;
  for (const TileKernel& k : table().kernels)
    if (k.runs_here) s += (s.empty() ? "" : ", ") + std::string(k.name);
  return s;
}

int index_for(std::string_view name) {
  if (name == "auto") return default_choice().index;
  for (std::size_t i = 0; i < table().kernels.size(); ++i) {
    const TileKernel& k = table().kernels[i];
    if (name != k.name) continue;
    if (!k.runs_here)
      throw std::invalid_argument("GEMM kernel " + std::string(name) +
                                  " needs instructions this CPU lacks; it runs: " + usable_names());
    return static_cast<int>(i);
  }
  throw std::invalid_argument("no GEMM kernel named '" + std::string(name) +
                              "' in this build; this CPU runs: " + usable_names() + " (or auto)");
}

std::atomic<int> g_active{-1};  // -1: not chosen yet

int active_index() {
  const int i = g_active.load(std::memory_order_relaxed);
  if (i >= 0) return i;
  const char* env = std::getenv("FLOWTAPE_GEMM_KERNEL");
  int chosen = default_choice().index;
  if (env && *env) {
    try {
      chosen = index_for(env);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("FLOWTAPE_GEMM_KERNEL: ") + e.what());
    }
  }
  int expected = -1;  // a set_tile_kernel in between wins
  g_active.compare_exchange_strong(expected, chosen, std::memory_order_relaxed);
  return g_active.load(std::memory_order_relaxed);
}

}  // namespace

std::span<const TileKernel> tile_kernels() {
  return table().kernels;
}

const TileKernel& default_tile_kernel() {
  return table().kernels[default_choice().index];
}

std::string default_tile_kernel_reason() {
  return default_choice().reason;
}

const TileKernel& tile_kernel() {
  return table().kernels[active_index()];
}

void set_tile_kernel(std::string_view name) {
  g_active.store(index_for(name), std::memory_order_relaxed);
}

gemm_detail::TileId gemm_detail::active_tile() {
  return table().ids[active_index()];
}

gemm_detail::TileChoice gemm_detail::choose_tile_kernel(const CpuInfo& cpu) {
  const Choice c = choose(cpu);
  return {table().kernels[c.index].name, c.reason};
}

void gemm_detail::forget_tile_kernel() {
  g_active.store(-1, std::memory_order_relaxed);
}

}  // namespace flowtape::kernels::cpu
