// SPDX-License-Identifier: MIT
// The GEMM's tile kernels, and which one runs. A build compiles the kernels its target
// instruction set allows (-march, the FLOWTAPE_ARCH option): with AVX-512, an 8 x 32 f32 tile
// of 512-bit vectors and a 6 x 16 tile of 256-bit ones; with AVX2 and FMA, only the second;
// elsewhere a 6-row tile of the target's own vectors. At the first GEMM one is chosen for the
// CPU the process runs on (default_tile_kernel; FLOWTAPE_GEMM_KERNEL=name overrides it), the
// way OpenBLAS and BLIS choose a kernel per core. Every kernel gives the same bits: each
// element of C is the same FMA chain over the shared k blocking (gemm_common.hpp), so the
// choice changes only the speed (tests/kernels/test_gemm_kernels.cpp runs every kernel the
// CPU has).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace flowtape::kernels::cpu {

struct CpuInfo;

struct TileKernel {
  const char* name;  // "avx512-8x32": instruction set, then the f32 tile's rows x columns
  int vector_bits;
  int rows;         // rows of C per tile
  int f32_columns;  // columns of C per f32 tile: two vectors (half as many in f64)
  bool runs_here;   // this CPU has the instructions
};

// The kernels compiled into this build, widest vectors first.
std::span<const TileKernel> tile_kernels();

// The kernel chosen for this CPU when nothing overrides it, and a one-line reason.
const TileKernel& default_tile_kernel();
std::string default_tile_kernel_reason();

// The kernel the GEMM uses now. The first call reads FLOWTAPE_GEMM_KERNEL (a name, or "auto"),
// and throws std::invalid_argument, as set_tile_kernel does, where it names no usable kernel.
const TileKernel& tile_kernel();

// Uses the named kernel from the next GEMM on ("auto": default_tile_kernel()). Throws
// std::invalid_argument for a name this build lacks or one this CPU cannot run, listing the
// kernels it can. Safe to call while other threads run GEMMs (each GEMM reads it once).
void set_tile_kernel(std::string_view name);

namespace gemm_detail {

// The kernels as gemm.cpp compiles them, in tile_kernels()'s order; the table there and the
// dispatch in gemm.cpp both follow these macros.
#if defined(__AVX512F__) && defined(__FMA__)
#define FLOWTAPE_TILE_AVX512 1
#else
#define FLOWTAPE_TILE_AVX512 0
#endif
#if defined(__AVX2__) && defined(__FMA__)
#define FLOWTAPE_TILE_AVX2 1
#else
#define FLOWTAPE_TILE_AVX2 0
#endif
enum class TileId : std::uint8_t {
  avx512_8x32,  // xsimd::avx512f, 8 rows (FLOWTAPE_TILE_AVX512)
  avx2_6x16,    // xsimd::fma3<xsimd::avx2>, 6 rows (FLOWTAPE_TILE_AVX2)
  native_6,     // xsimd::default_arch, 6 rows: only where neither of the above is compiled
};

// tile_kernel() as gemm.cpp needs it.
TileId active_tile();

// The name of the kernel choose() picks for a CPU (any CPU, not only this one's), and why.
struct TileChoice {
  std::string name;
  std::string reason;
};
TileChoice choose_tile_kernel(const CpuInfo& cpu);

// Forgets the kernel in use, so that the next GEMM chooses again and reads
// FLOWTAPE_GEMM_KERNEL anew: for tests of that choice.
void forget_tile_kernel();

}  // namespace gemm_detail

}  // namespace flowtape::kernels::cpu
