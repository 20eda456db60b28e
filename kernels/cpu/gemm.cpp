// SPDX-License-Identifier: MIT
// Packed, register-blocked GEMM in the style of BLIS/GotoBLAS.
//
// Loops, outermost first: columns of C in panels of NC; the k dimension in blocks of KC
// (one packed KC x NC panel of op(B), kept in L3); rows of C in blocks of MC (one packed
// MC x KC block of op(A), kept in L2); then MR x NR tiles of C computed by the micro-kernel
// from an MR-row sliver of A and an NR-column sliver of B (kept in L1). Packing also applies
// the transposes, so the micro-kernel always streams contiguous memory. Edges are handled by
// zero-padding the packed slivers and writing the valid part of the tile. Most shapes with a
// dimension of at most 4 go to gemm_thin.cpp instead (see gemm_thin.hpp for which, and for
// the one kernel there whose bits differ from the tiles').
#include "flowtape/kernels/cpu/gemm.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <type_traits>

#include "flowtape/kernels/cpu/gemm_common.hpp"
#include "flowtape/kernels/cpu/gemm_kernels.hpp"
#include "flowtape/kernels/cpu/gemm_thin.hpp"
#include "flowtape/kernels/cpu/parallel.hpp"
#include "flowtape/kernels/cpu/simd.hpp"

// Whether AddressSanitizer instruments this file (GCC's macro, clang's feature test).
#if defined(__SANITIZE_ADDRESS__)
#define FLOWTAPE_GEMM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FLOWTAPE_GEMM_ASAN 1
#endif
#endif

namespace flowtape::kernels::cpu {
namespace {

using gemm_detail::scratch;
using gemm_detail::store_pair;
using gemm_detail::TileId;

// One tile kernel's blocking (gemm_kernels.hpp lists the kernels): vectors of Arch, MR rows x
// two vectors of columns per tile. Only kKC is shared, which keeps every kernel's bits.
template <class T, class Arch, std::int64_t kRows>
struct Tile {
  using B = xsimd::batch<T, Arch>;
  static constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  // Rows of a tile: MR x 2 accumulators + 2 batches of B + 1 of A. 6 fills AVX2's 16
  // registers (15). With AVX-512's 32, 8 rows (19 registers) made a training step's layer
  // GEMMs up to 1.15x as fast as 6 in f32 on Zen 5 (most on the width-64 weight gradients)
  // and left f64 even; 10 and 12 rows were no better than 8.
  static constexpr std::int64_t MR = kRows;
  static_assert(MR <= 8, "gemm.cpp unrolls its loops over a tile's rows 8 ways");
  static constexpr std::int64_t NR = 2 * W;  // columns of a tile: two SIMD registers
  static constexpr std::int64_t KC = gemm_detail::kKC;
  static constexpr std::int64_t MC = MR * (sizeof(T) == 4 ? 24 : 16);
  static constexpr std::int64_t NC = NR * 128;
};

// Calls f(Tile{}) with the tile kernel `id` names, for element type T.
template <class T, class F>
void with_tile(TileId id, F&& f) {
  switch (id) {
#if FLOWTAPE_TILE_AVX512
    case TileId::avx512_8x32:
      return f(Tile<T, xsimd::avx512f, 8>{});
#endif
#if FLOWTAPE_TILE_AVX2
    case TileId::avx2_6x16:
      return f(Tile<T, xsimd::fma3<xsimd::avx2>, 6>{});
#endif
#if !FLOWTAPE_TILE_AVX512 && !FLOWTAPE_TILE_AVX2
    case TileId::native_6:
      return f(Tile<T, xsimd::default_arch, 6>{});
#endif
    default:
      break;
  }
  throw std::logic_error("GEMM tile kernel not compiled into this build");
}

// Writes the first `count` (<= N) values of src, spaced `stride` apart, then zeros, to
// out[0, N). The trip count is fixed: a variable-length copy and zero fill of a ragged sliver
// compiled to rep movs / rep stos, whose start-up cost was most of the packing time of an
// m = 64 weight gradient (with 6-row tiles, 64 = 10 slivers of 6 rows + 4).
template <std::int64_t N, class T>
inline void copy_padded(const T* src, std::int64_t stride, std::int64_t count, T* out) {
#pragma GCC unroll 16
  for (std::int64_t r = 0; r < N; ++r) out[r] = r < count ? src[r * stride] : T(0);
}

// Packs a row-major block, rows [0, kc) x columns [0, width) with row stride ld, into R-wide
// slivers: sliver s (starting at column s) holds, at dst + s * kc, the R values of each row
// (zero past the edge). This is a transposed A (R = MR) or a plain B (R = NR). Rows are
// taken in memory order, so the block streams in once, and kGroup columns at a time: all of
// a block's slivers at once would be one write stream each (a 144-row A block: 24 streams,
// about 3x slower than groups of 8), and one sliver at a time walks the block once per
// sliver (also slower).
template <std::int64_t R, class T>
void pack_rows(const T* src0, std::int64_t ld, std::int64_t kc, std::int64_t width, T* dst) {
  constexpr std::int64_t kGroup = 8 * R;
  constexpr std::int64_t kLine = 64 / static_cast<std::int64_t>(sizeof(T));
  const std::int64_t full = width / R * R;
  for (std::int64_t g0 = 0; g0 < width; g0 += kGroup) {
    const std::int64_t g1 = std::min(width, g0 + kGroup), g_full = std::min(full, g1);
    for (std::int64_t p = 0; p < kc; ++p) {
      const T* src = src0 + p * ld;
      T* out = dst + p * R;
      // The rows are ld apart: a stride the hardware prefetcher followed too late when a
      // weight gradient's operands (the [batch, width] activations) came from memory.
      if (p + 8 < kc) {  // every line of the group's part of row p + 8
        for (std::int64_t q = g0; q < g1; q += kLine) __builtin_prefetch(src + 8 * ld + q);
        __builtin_prefetch(src + 8 * ld + g1 - 1);
      }
      for (std::int64_t q = g0; q < g_full; q += R)  // a fixed-size copy the compiler inlines
        std::memcpy(out + q * kc, src + q, R * sizeof(T));
      if (g_full < g1) copy_padded<R>(src + g_full, 1, g1 - g_full, out + g_full * kc);
    }
  }
}

// Packs rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) into MR-row slivers: sliver s holds, for
// each p, the MR values of rows s*MR.. (zero past the edge).
template <class Tl, class T>
void pack_a(bool trans, const T* a, std::int64_t lda, std::int64_t i0, std::int64_t mc,
            std::int64_t p0, std::int64_t kc, T* dst) {
  constexpr std::int64_t MR = Tl::MR;
  if (trans)  // op(A)(i, p) = a[p, i]: row p of a holds every sliver's values at p
    return pack_rows<MR>(a + p0 * lda + i0, lda, kc, mc, dst);
  const std::int64_t full = mc / MR * MR;
  for (std::int64_t s = 0; s < mc; s += MR) {
    const T* src = a + (i0 + s) * lda + p0;
    T* out = dst + s * kc;
    if (s < full)
      for (std::int64_t p = 0; p < kc; ++p)
#pragma GCC unroll 8
        for (std::int64_t r = 0; r < MR; ++r) out[p * MR + r] = src[r * lda + p];
    else
      for (std::int64_t p = 0; p < kc; ++p) copy_padded<MR>(src + p, lda, mc - s, out + p * MR);
  }
}

// Packs one NR-column sliver of a transposed B: dst[p * NR + j] = src[j * ldb + p] for
// p < kc, j < cols, zero for cols <= j < NR. In f32 on x86, 4 x 4 blocks go through SSE
// registers (_MM_TRANSPOSE4_PS): four loads and four stores for 16 values, where the
// element-by-element gather took a load and a store each. That gather was 7.5% of a width-64
// FDM step on Zen 5 (the forward x w^T and its tangent pack w^T every step); the blocks
// move the same values, so the bits are the same.
template <std::int64_t NR, class T>
void pack_transposed_sliver(const T* src, std::int64_t ldb, std::int64_t kc, std::int64_t cols,
                            T* dst) {
  std::int64_t p = 0;
#if defined(__SSE__)
  if constexpr (std::is_same_v<T, float>) {
    const std::int64_t cols4 = cols / 4 * 4;
    for (; p + 4 <= kc; p += 4) {
      for (std::int64_t j = 0; j < cols4; j += 4) {
        __m128 r0 = _mm_loadu_ps(src + j * ldb + p), r1 = _mm_loadu_ps(src + (j + 1) * ldb + p),
               r2 = _mm_loadu_ps(src + (j + 2) * ldb + p),
               r3 = _mm_loadu_ps(src + (j + 3) * ldb + p);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(dst + p * NR + j, r0);
        _mm_storeu_ps(dst + (p + 1) * NR + j, r1);
        _mm_storeu_ps(dst + (p + 2) * NR + j, r2);
        _mm_storeu_ps(dst + (p + 3) * NR + j, r3);
      }
      for (std::int64_t q = p; q < p + 4; ++q)  // the ragged columns, and the zeros past them
        for (std::int64_t j = cols4; j < NR; ++j)
          dst[q * NR + j] = j < cols ? src[j * ldb + q] : T(0);
    }
  }
#endif
  for (; p < kc; ++p) copy_padded<NR>(src + p, ldb, cols, dst + p * NR);
}

// Packs rows [p0, p0+kc) x cols [j0, j0+nc) of op(B) into NR-column slivers.
template <class Tl, class T>
void pack_b(bool trans, const T* b, std::int64_t ldb, std::int64_t p0, std::int64_t kc,
            std::int64_t j0, std::int64_t nc, T* dst) {
  constexpr std::int64_t NR = Tl::NR;
  if (!trans) return pack_rows<NR>(b + p0 * ldb + j0, ldb, kc, nc, dst);
  for (std::int64_t s = 0; s < nc; s += NR) {  // op(B)(p, j) = b[j, p]
    pack_transposed_sliver<NR>(b + (j0 + s) * ldb + p0, ldb, kc, std::min(NR, nc - s), dst);
    dst += kc * NR;
  }
}

// Prefetches a block of memory (rows of row_bytes bytes, ld_bytes apart) into L2 a few
// lines per step(), spread over about `steps` calls: gemm_tiled runs it over the operands of
// the block it computes next while the micro-kernels of this one, which are bound by the FMA
// units, leave the memory idle. Without it the first pass over a block of A (144 rows of a
// [4096, 256] activation) and the packing of each op(B) panel waited on memory.
class BlockPrefetch {
 public:
  void start(const void* base, std::int64_t rows, std::int64_t row_bytes, std::int64_t ld_bytes,
             std::int64_t steps) {
    rows_ = rows > 0 && row_bytes > 0 ? rows : 0;
    if (rows_ == 0) return;
    base_ = reinterpret_cast<std::uintptr_t>(base);
    row_bytes_ = row_bytes;
    ld_bytes_ = ld_bytes;
    row_ = 0;
    start_row();
    per_step_ = (rows * (row_bytes / kLine + 2) + steps - 1) / std::max<std::int64_t>(steps, 1);
  }
  void stop() { rows_ = 0; }
  void step() {
    for (std::int64_t i = 0; i < per_step_ && row_ < rows_; ++i) {
      // prefetcht1: into L2, not into L1, where the micro-kernel keeps B's sliver.
      __builtin_prefetch(reinterpret_cast<const void*>(line_), 0, 2);
      line_ += kLine;
      if (line_ >= row_end_ && ++row_ < rows_) start_row();
    }
  }

 private:
  static constexpr std::int64_t kLine = 64;
  // Addresses are integers: the first line of a row may start before the operand, and the
  // last may end past it, which a pointer may not.
  void start_row() {
    const std::uintptr_t first = base_ + static_cast<std::uintptr_t>(row_ * ld_bytes_);
    line_ = first - first % kLine;
    row_end_ = first + static_cast<std::uintptr_t>(row_bytes_);
#if defined(FLOWTAPE_GEMM_ASAN)
    // A prefetch never faults, so under AddressSanitizer the row's first and last bytes are
    // also read: a block that strays outside its operand is then reported (test_gemm.cpp).
    static_cast<void>(*reinterpret_cast<const volatile char*>(first));
    static_cast<void>(*reinterpret_cast<const volatile char*>(row_end_ - 1));
#endif
  }
  std::uintptr_t base_ = 0, line_ = 0, row_end_ = 0;
  std::int64_t rows_ = 0, row_bytes_ = 0, ld_bytes_ = 0, row_ = 0, per_step_ = 0;
};

// Prefetching (of C's tile in micro_kernel, of the next block in gemm_tiled) only for k of at
// least this: with short micro-kernel calls (k = 34, an MLP's first layer; k = 64, a
// width-64 layer) C is in cache and the prefetches' own instructions cost 2-30% (see there).
constexpr std::int64_t kPrefetchMinK = 128;

// Where the micro-kernel reads its MR-row sliver of op(A): packed (MR values per p, one after
// the other), or in place in a row-major A (op(A) = a: row r at r * lda) or a transposed one
// (op(A) = a^T: the MR values of each p contiguous, p at p * lda). See gemm_tiled for when.
enum class ASliver { packed, rows, columns };

// C tile (mr x nr valid of MR x NR) = alpha * op(A) Bp + beta * C (+ the bias row when bias is
// non-null: it points at the tile's first column of the bias). ap points at the sliver's
// (row 0, p 0); lda is unused when it is packed. Not inlined: inlined into gemm_tiled beside
// its other layouts, the row-major loop had one B batch spilled to the stack (35% slower).
template <class Tl, ASliver kA, class T>
[[gnu::noinline]] void micro_kernel(std::int64_t kc, const T* __restrict ap, std::int64_t lda,
                                    const T* __restrict bp, T* c, std::int64_t ldc, std::int64_t mr,
                                    std::int64_t nr, T alpha, T beta, const T* bias) {
  using B = typename Tl::B;
  constexpr std::int64_t MR = Tl::MR, NR = Tl::NR, W = Tl::W;
  B acc0[MR], acc1[MR];
#pragma GCC unroll 8
  for (std::int64_t r = 0; r < MR; ++r) acc0[r] = acc1[r] = B(T(0));
  // The tile of C is read (beta != 0) or written only after the k loop, too late for
  // out-of-order execution to hide a miss: fetch each row's first and last line now, for
  // writing (with AVX2 a row of the tile is 64 bytes, one line or two). It pays at width 256
  // with operands from memory (up to 1.2x with beta = 1); with kc = 64 and C in cache it
  // costs a few percent, hence kPrefetchMinK.
  if (kc >= kPrefetchMinK) {
#pragma GCC unroll 8
    for (std::int64_t r = 0; r < MR; ++r)
      if (r < mr) {
        __builtin_prefetch(c + r * ldc, 1);
        __builtin_prefetch(c + r * ldc + nr - 1, 1);
      }
  }
  // Two loops, each with its strides known to the compiler: the MR values of each p are
  // contiguous in a packed sliver (the next p MR values on) and in a transposed A read in
  // place (the next p a row of a, lda, on); a row-major A holds them a row apart.
  if constexpr (kA == ASliver::rows) {
    for (std::int64_t p = 0; p < kc; ++p) {
      const B b0 = B::load_aligned(bp), b1 = B::load_aligned(bp + W);
#pragma GCC unroll 8
      for (std::int64_t r = 0; r < MR; ++r) {
        const B av(ap[r * lda + p]);
        acc0[r] = fmadd(av, b0, acc0[r]);
        acc1[r] = fmadd(av, b1, acc1[r]);
      }
      bp += NR;
    }
  } else {
    const std::int64_t a_step = kA == ASliver::packed ? MR : lda;
    for (std::int64_t p = 0; p < kc; ++p) {
      const B b0 = B::load_aligned(bp), b1 = B::load_aligned(bp + W);
#pragma GCC unroll 8
      for (std::int64_t r = 0; r < MR; ++r) {
        const B av(ap[r]);
        acc0[r] = fmadd(av, b0, acc0[r]);
        acc1[r] = fmadd(av, b1, acc1[r]);
      }
      ap += a_step;
      bp += NR;
    }
  }
  const B va(alpha);
#pragma GCC unroll 8
  for (std::int64_t r = 0; r < MR; ++r)
    if (r < mr) store_pair(c + r * ldc, nr, va * acc0[r], va * acc1[r], beta, bias);
}

}  // namespace

void* gemm_detail::scratch_bytes(int which, std::size_t bytes) {
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<void, FreeDeleter> buf[2];
  thread_local std::size_t cap[2] = {0, 0};
  bytes = (bytes + 63) / 64 * 64;
  if (cap[which] < bytes) {
    cap[which] = 0;  // (a failed allocation below leaves no buffer behind a stale capacity)
    buf[which].reset(std::aligned_alloc(64, bytes));
    if (!buf[which]) throw std::bad_alloc();
    cap[which] = bytes;
  }
  return buf[which].get();
}

namespace {

// The BLIS loop nest with tile kernel Tl. k > 0.
template <class Tl, class T>
void tiled(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
           const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
           std::int64_t ldc, const T* bias) {
  using Blk = Tl;
  const std::int64_t kc_max = std::min(Blk::KC, k);
  const std::int64_t nc_max = std::min(Blk::NC, (n + Blk::NR - 1) / Blk::NR * Blk::NR);
  const std::int64_t mc_max = std::min(Blk::MC, (m + Blk::MR - 1) / Blk::MR * Blk::MR);
  T* bp = scratch<T>(0, static_cast<std::size_t>(kc_max * nc_max));
  T* ap = scratch<T>(1, static_cast<std::size_t>(kc_max * mc_max));
  // Packing A pays off when each packed block is reused across many NR-column slivers. For a
  // C of up to 16 slivers (256 f32 columns with AVX2: an MLP's [batch, 64] and [batch, 256]
  // layers are 4 and 16 slivers) the scalar, strided packing of a row-major A cost more than
  // reading it in place: each micro-tile then streams MR contiguous rows, which the hardware
  // prefetcher follows (at 256 columns it halved the packing's share of a width-256 FDM step).
  // A transposed A (a weight gradient x^T g) is read in place only when its rows are at most
  // kColumnsBytes apart: the sliver's rows then sit in many L1 sets. Rows 1 KB apart (f32
  // width 256) fell in a few sets, and reading in place lost to packing there; at f32 width 64
  // (rows 256 B apart) it made the weight gradient faster. f64 was not timed; the limit in
  // bytes gives it the same cache behaviour (width 32).
  constexpr std::int64_t kColumnsBytes = 256;
  const bool in_place_a = n <= 16 * Blk::NR &&
                          (!trans_a || lda * static_cast<std::int64_t>(sizeof(T)) <= kColumnsBytes);

  // While a block computes, the operands of the next one are prefetched (BlockPrefetch): the
  // next block of op(A) over the block's micro-kernel calls, the next panel of op(B) over the
  // panel's. Only where it pays:
  // - for an operand larger than kPrefetchBytes; a smaller one stays in L2 between uses;
  // - for k of at least kPrefetchMinK: with short micro-kernel calls (k = 34 or 64, an MLP's
  //   first layer or a width-64 one) the prefetching's own instructions slowed such GEMMs;
  // - for an operand whose values are each used at least kPrefetchMinUses times (n for A, m
  //   for B): a width-64 weight gradient (m = n = 64, k = 4096) would issue a prefetch every
  //   1K multiply-adds, which loses when its operands are in cache, as they are in a width-64
  //   training step.
  // Width 256 (1 MiB or 4 MiB activations from memory) gains on each GEMM and on whole steps
  // (up to 1.08x a step at batch 1024 and 4096).
  constexpr std::int64_t kPrefetchBytes = 256 << 10, kPrefetchMinUses = 128, sz = sizeof(T);
  const bool prefetch_a =
      k >= kPrefetchMinK && n >= kPrefetchMinUses && m * k * sz > kPrefetchBytes;
  const bool prefetch_b =
      k >= kPrefetchMinK && m >= kPrefetchMinUses && k * n * sz > kPrefetchBytes;
  // Starts pf over block [r0, r0 + rows) x [c0, c0 + cols) of op(X), stored as x with row
  // stride ld (transposed when trans), in `steps` steps.
  const auto start = [](BlockPrefetch& pf, bool trans, const T* x, std::int64_t ld, std::int64_t r0,
                        std::int64_t rows, std::int64_t c0, std::int64_t cols, std::int64_t steps) {
    if (trans)
      pf.start(x + c0 * ld + r0, cols, rows * sz, ld * sz, steps);
    else
      pf.start(x + r0 * ld + c0, rows, cols * sz, ld * sz, steps);
  };
  const auto tiles = [](std::int64_t extent, std::int64_t tile) {
    return (extent + tile - 1) / tile;
  };
  BlockPrefetch pf_a, pf_b;

  for (std::int64_t jc = 0; jc < n; jc += Blk::NC) {
    const std::int64_t nc = std::min(Blk::NC, n - jc);
    for (std::int64_t pc = 0; pc < k; pc += Blk::KC) {
      const std::int64_t kc = std::min(Blk::KC, k - pc);
      const T beta_block = gemm_detail::block_beta(pc, beta);
      const T* bias_block = pc == 0 && bias ? bias + jc : nullptr;
      pack_b<Tl>(trans_b, b, ldb, pc, kc, jc, nc, bp);
      // The panel of op(B) packed after this one: the next k block, else the next columns.
      const std::int64_t next_pc = pc + Blk::KC < k ? pc + Blk::KC : 0;
      const std::int64_t next_jc = next_pc > 0 ? jc : jc + Blk::NC;
      pf_b.stop();
      if (prefetch_b && next_jc < n)
        start(pf_b, trans_b, b, ldb, next_pc, std::min(Blk::KC, k - next_pc), next_jc,
              std::min(Blk::NC, n - next_jc), tiles(nc, Blk::NR) * tiles(m, Blk::MR));
      for (std::int64_t ic = 0; ic < m; ic += Blk::MC) {
        const std::int64_t mc = std::min(Blk::MC, m - ic);
        // The block of op(A) used after this one: the next rows, else the first rows of the
        // next panel.
        pf_a.stop();
        if (prefetch_a) {
          const bool last = ic + Blk::MC >= m;
          const std::int64_t next_ic = last ? 0 : ic + Blk::MC, next_p = last ? next_pc : pc;
          if (!last || next_jc < n)
            start(pf_a, trans_a, a, lda, next_ic, std::min(Blk::MC, m - next_ic), next_p,
                  std::min(Blk::KC, k - next_p), tiles(nc, Blk::NR) * tiles(mc, Blk::MR));
        }
        // The block's micro-kernel calls, with a prefetch step before each when kPrefetch. Two
        // instances: with the prefetching's state live in the loop, the rest of it spilled to
        // the stack, and k = 34 GEMMs with a C from memory (whose micro-kernels wait on their
        // stores) ran 0.7-0.85x as fast even with both prefetchers stopped.
        const auto compute_block = [&]<bool kPrefetch>() {
          const auto prefetch_step = [&] {
            if constexpr (kPrefetch) {
              pf_a.step();
              pf_b.step();
            }
          };
          if (in_place_a) {
            // Full MR-row tiles read A where it lies (reading past a ragged edge would leave
            // the buffer); only a ragged last sliver is packed.
            const std::int64_t full = mc / Blk::MR * Blk::MR;
            if (full < mc) pack_a<Tl>(trans_a, a, lda, ic + full, mc - full, pc, kc, ap);
            for (std::int64_t jr = 0; jr < nc; jr += Blk::NR) {
              const std::int64_t nr = std::min(Blk::NR, nc - jr);
              T* c_tile = c + ic * ldc + jc + jr;
              const T* bias_tile = bias_block ? bias_block + jr : nullptr;
              for (std::int64_t ir = 0; ir < full; ir += Blk::MR) {
                prefetch_step();
                if (trans_a)
                  micro_kernel<Tl, ASliver::columns>(kc, a + pc * lda + ic + ir, lda, bp + jr * kc,
                                                     c_tile + ir * ldc, ldc, Blk::MR, nr, alpha,
                                                     beta_block, bias_tile);
                else
                  micro_kernel<Tl, ASliver::rows>(kc, a + (ic + ir) * lda + pc, lda, bp + jr * kc,
                                                  c_tile + ir * ldc, ldc, Blk::MR, nr, alpha,
                                                  beta_block, bias_tile);
              }
              if (full < mc) {
                prefetch_step();
                micro_kernel<Tl, ASliver::packed>(kc, ap, 0, bp + jr * kc, c_tile + full * ldc, ldc,
                                                  mc - full, nr, alpha, beta_block, bias_tile);
              }
            }
            return;
          }
          pack_a<Tl>(trans_a, a, lda, ic, mc, pc, kc, ap);
          for (std::int64_t jr = 0; jr < nc; jr += Blk::NR) {
            const std::int64_t nr = std::min(Blk::NR, nc - jr);
            T* c_tile = c + ic * ldc + jc + jr;
            const T* bias_tile = bias_block ? bias_block + jr : nullptr;
            for (std::int64_t ir = 0; ir < mc; ir += Blk::MR) {
              prefetch_step();
              micro_kernel<Tl, ASliver::packed>(kc, ap + ir * kc, 0, bp + jr * kc,
                                                c_tile + ir * ldc, ldc, std::min(Blk::MR, mc - ir),
                                                nr, alpha, beta_block, bias_tile);
            }
          }
        };
        if (prefetch_a || prefetch_b)
          compute_block.template operator()<true>();
        else
          compute_block.template operator()<false>();
      }
    }
  }
}

// One thread's GEMM with tile kernel Tl: k = 0, a thin kernel, or the tiles.
template <class Tl, class T>
void gemm_serial(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                 T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
                 std::int64_t ldc, const T* bias) {
  if (k <= 0) {  // op(A) op(B) is the zero matrix
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        T& dst = c[i * ldc + j];
        if (bias)  // as the affine layer's old fill-then-accumulate: a -0 bias stays -0
          dst = beta == T(0) ? bias[j] : beta * dst + bias[j];
        else
          dst = beta == T(0) ? T(0) : beta * dst;
      }
    return;
  }
  if (gemm_detail::gemm_thin(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias))
    return;
  tiled<Tl>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
}

// Above kParallelMacs multiply-adds, C is cut into one block of rows (or of columns, when C
// is wide and short, as in a weight gradient W x B^T with a small W) per thread, and each
// block is an independent serial GEMM on the pool. Blocks are whole micro-tiles, and no block
// is thin where C is not (a remainder of at most kThin columns would take gemm_thin's
// dot-product kernel, so the last block absorbs it), so every element is computed by the
// same instruction sequence whatever the thread count: results are bit-identical with 1 or
// n threads. Below the threshold the pool's wake-up and moving the blocks' rows between the
// cores' caches cost more than the second core saves: at 2^20 a width-64 MLP's training step
// ([256, 64] x [64, 64] layers) ran a third slower on two threads than on one, at 2^22 the
// two were even, and lower thresholds gained nothing on whole steps even with spinning
// workers (docs/performance.md, Threads).
template <class Tl, class T>
void gemm_with(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
               const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
               std::int64_t ldc, const T* bias) {
  using Blk = Tl;
  if (m <= 0 || n <= 0) return;
  constexpr double kParallelMacs = 1 << 22;
  const int threads = get_num_threads();
  if (threads <= 1 || static_cast<double>(m) * n * std::max<std::int64_t>(k, 1) < kParallelMacs) {
    gemm_serial<Tl>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
    return;
  }
  // Each block packs its own copy of op(B) (rows) or op(A) (columns): a block narrower than
  // kMinPart would spend too much of its time on that duplicated packing (a weight gradient
  // [64, 4096] x [4096, 64] got slower on two threads), so such a GEMM stays serial.
  constexpr std::int64_t kMinPart = 96;
  const bool by_rows = m >= n;
  const std::int64_t extent = by_rows ? m : n, unit = by_rows ? Blk::MR : Blk::NR;
  const std::int64_t units = (extent + unit - 1) / unit;
  const std::int64_t parts = std::min<std::int64_t>(threads, extent / kMinPart);
  if (parts < 2) {
    gemm_serial<Tl>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
    return;
  }
  const std::int64_t per = (units + parts - 1) / parts * unit;
  std::int64_t blocks = (extent + per - 1) / per;
  if (extent - (blocks - 1) * per <= gemm_detail::kThin) --blocks;
  parallel_for(blocks, [&](std::int64_t part) {
    const std::int64_t lo = part * per, len = part == blocks - 1 ? extent - lo : per;
    if (by_rows) {  // rows [lo, lo+len) of op(A) and of C
      const T* a_part = trans_a ? a + lo : a + lo * lda;
      gemm_serial<Tl>(trans_a, trans_b, len, n, k, alpha, a_part, lda, b, ldb, beta, c + lo * ldc,
                      ldc, bias);
    } else {  // columns [lo, lo+len) of op(B) and of C
      const T* b_part = trans_b ? b + lo * ldb : b + lo;
      gemm_serial<Tl>(trans_a, trans_b, m, len, k, alpha, a, lda, b_part, ldb, beta, c + lo, ldc,
                      bias ? bias + lo : nullptr);
    }
  });
}

}  // namespace

template <class T>
void gemm_detail::gemm_tiled(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n,
                             std::int64_t k, T alpha, const T* a, std::int64_t lda, const T* b,
                             std::int64_t ldb, T beta, T* c, std::int64_t ldc, const T* bias) {
  with_tile<T>(active_tile(), [&](auto tile) {
    tiled<decltype(tile)>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
  });
}

// The tile kernel is read once per GEMM, so every block of a parallel GEMM uses the same one.
template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc, const T* bias) {
  if (m <= 0 || n <= 0) return;
  with_tile<T>(gemm_detail::active_tile(), [&](auto tile) {
    gemm_with<decltype(tile)>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
  });
}

template void gemm_detail::gemm_tiled<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t,
                                             float, const float*, std::int64_t, const float*,
                                             std::int64_t, float, float*, std::int64_t,
                                             const float*);
template void gemm_detail::gemm_tiled<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t,
                                              double, const double*, std::int64_t, const double*,
                                              std::int64_t, double, double*, std::int64_t,
                                              const double*);
template void gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*,
                          std::int64_t, const float*, std::int64_t, float, float*, std::int64_t,
                          const float*);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double,
                           const double*, std::int64_t, const double*, std::int64_t, double,
                           double*, std::int64_t, const double*);

}  // namespace flowtape::kernels::cpu
