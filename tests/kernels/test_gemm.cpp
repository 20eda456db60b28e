// SPDX-License-Identifier: MIT
// The packed GEMM against the triple loop: every transpose combination, odd sizes that
// straddle the register tile and the cache blocks, beta = 0 (C unread) and beta != 0, and the
// bias epilogue (bit-identical to filling C with the bias rows and accumulating onto them), and
// the kernels for a dimension of at most 4 (bit-identical to the tiles where they promise it).
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "flowtape/kernels/cpu/elementwise.hpp"
#include "flowtape/kernels/cpu/gemm.hpp"
#include "flowtape/kernels/cpu/gemm_common.hpp"
#include "flowtape/kernels/cpu/gemm_thin.hpp"
#include "flowtape/kernels/cpu/math.hpp"
#include "flowtape/kernels/cpu/parallel.hpp"
#include "support/reference.hpp"
#include "support/threads.hpp"
#include "support/tile_kernel.hpp"

using namespace flowtape::kernels::cpu;
using flowtape::test::max_rel_error;
using flowtape::test::random_vector;

namespace {

// gemm against gemm_reference. `pad` widens every leading dimension past its rows (the
// padding must come out untouched); beta = 0 fills C with NaN, which gemm must not read. With
// k = 0 the bits must match, signed zeros included.
template <class T>
void check_gemm(std::int64_t m, std::int64_t n, std::int64_t k, bool ta, bool tb, T alpha, T beta,
                bool with_bias = false, std::int64_t pad = 0) {
  const std::int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  const auto a = random_vector<T>(static_cast<std::size_t>((ta ? k : m) * lda), 1);
  const auto b = random_vector<T>(static_cast<std::size_t>((tb ? n : k) * ldb), 2);
  auto c = random_vector<T>(static_cast<std::size_t>(m * ldc), 3);
  auto bias = random_vector<T>(static_cast<std::size_t>(n), 4);
  bias[0] = T(-0.0);  // signed zeros must survive where nothing is added to them (k = 0)
  const T* bias_ptr = with_bias ? bias.data() : nullptr;
  if (beta == T(0))
    for (std::int64_t i = 0; i < m; ++i)
      std::fill_n(c.begin() + i * ldc, n, std::numeric_limits<T>::quiet_NaN());
  auto expect = c;
  gemm<T>(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc, bias_ptr);
  gemm_reference<T>(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, expect.data(), ldc,
                    bias_ptr);
  const double tol =
      (sizeof(T) == 4 ? 3e-6 : 1e-14) * static_cast<double>(std::max<std::int64_t>(k, 1));
  const auto where = [&] {
    std::ostringstream o;
    o << "m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " tb=" << tb << " alpha=" << alpha
      << " beta=" << beta << " bias=" << with_bias << " pad=" << pad;
    return o.str();
  };
  BOOST_TEST(max_rel_error(c, expect) < tol, where());
  if (k == 0 || pad > 0) {
    // k = 0 is exact (signed zeros too); padding is never written, so it keeps its bits.
    bool same = true;
    for (std::int64_t i = 0; i < m; ++i) {
      const std::size_t at = static_cast<std::size_t>(i * ldc);
      const std::size_t len = static_cast<std::size_t>(k == 0 ? ldc : ldc - n);
      const std::size_t from = k == 0 ? at : at + static_cast<std::size_t>(n);
      same = same && std::memcmp(c.data() + from, expect.data() + from, len * sizeof(T)) == 0;
    }
    BOOST_TEST(same, "bits differ (k = 0) or padding written: " << where());
  }
  if (with_bias && beta == T(0) && alpha == T(1) && pad == 0) {
    // The affine layer's old form: C filled with the bias rows, then beta = 1. The epilogue
    // must give the same bits, so a linear layer's results did not change with it.
    std::vector<T> filled(c.size());
    for (std::int64_t i = 0; i < m; ++i)
      std::copy(bias.begin(), bias.end(), filled.begin() + i * n);
    gemm<T>(ta, tb, m, n, k, T(1), a.data(), lda, b.data(), ldb, T(1), filled.data(), n);
    // Bits, not ==, which would take -0 for +0.
    BOOST_TEST(std::memcmp(c.data(), filled.data(), c.size() * sizeof(T)) == 0,
               "bits differ: m=" << m << " n=" << n << " k=" << k);
  }
}

template <class T>
void sweep() {
  for (std::int64_t m : {1, 7, 33, 257})
    for (std::int64_t n : {1, 7, 33, 257})
      for (std::int64_t k : {1, 7, 33, 257})
        for (int t = 0; t < 4; ++t) check_gemm<T>(m, n, k, t & 1, t & 2, T(1), T(0));
}

// The thin kernels (a dimension of at most 4) against the tiles, which gemm_tiled runs alone:
// the same bits wherever gemm_thin.hpp promises them (k <= 4; n <= 4 with A transposed; m <= 4
// with B not transposed), for every transpose, alpha (0.3 makes alpha * sum inexact), beta,
// the bias, ragged chunks (remainders 1-15 of a 16-wide f32 vector; a later chunk of several
// vectors cut short past its first: width 100 for 64-wide chunks, 45 for 32- and 16-wide
// ones), widths of exactly two and four vectors (k <= 4 keeps op(B) in registers there: 16,
// 32 and 64), several k-blocks and row
// strides wider than the rows (`pad`; the padding must come out untouched). gemm_thin itself
// must take the shape, or the comparison would be the tiles against themselves. The
// dot-product kernel (n <= 4, k > 4, A not transposed) is checked against the triple loop.
template <class T>
void check_thin_bits(std::int64_t m, std::int64_t n, std::int64_t k, bool ta, bool tb, T alpha,
                     T beta, bool with_bias, std::int64_t pad = 0) {
  namespace detail = flowtape::kernels::cpu::gemm_detail;
  if (n <= 4 && !ta && k > 4) {  // the dot-product kernel: no bits promised
    check_gemm<T>(m, n, k, ta, tb, alpha, beta, with_bias, pad);
    return;
  }
  const std::int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  const auto a = random_vector<T>(static_cast<std::size_t>((ta ? k : m) * lda), 11);
  const auto b = random_vector<T>(static_cast<std::size_t>((tb ? n : k) * ldb), 12);
  const auto c0 = random_vector<T>(static_cast<std::size_t>(m * ldc), 13);
  auto bias = random_vector<T>(static_cast<std::size_t>(n), 14);
  bias[0] = T(-0.0);
  const T* bias_ptr = with_bias ? bias.data() : nullptr;
  auto thin = c0, direct = c0, tiled = c0;
  gemm<T>(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, thin.data(), ldc, bias_ptr);
  const bool taken = detail::gemm_thin<T>(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb,
                                          beta, direct.data(), ldc, bias_ptr);
  BOOST_TEST(taken, "not a thin shape: m=" << m << " n=" << n << " k=" << k);
  detail::gemm_tiled<T>(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, tiled.data(),
                        ldc, bias_ptr);
  const auto same = [](const std::vector<T>& x, const std::vector<T>& y) {
    return std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0;
  };
  BOOST_TEST((same(thin, tiled) && same(direct, tiled)),
             "bits differ: m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " tb=" << tb
                               << " alpha=" << alpha << " beta=" << beta << " bias=" << with_bias
                               << " pad=" << pad);
  check_gemm<T>(m, n, k, ta, tb, alpha, beta, with_bias, pad);
}

template <class T>
void thin_sweep() {
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    for (std::int64_t thin = 1; thin <= 4; ++thin)
      for (int v = 0; v < 4; ++v) {
        const T alpha = v == 2 ? T(-0.5) : v == 3 ? T(0.3) : T(1);
        const T beta = v == 1 || v == 2 ? T(0.75) : T(0);
        const bool with_bias = v != 1;
        const std::int64_t pad = v == 3 ? 3 : 0;
        for (std::int64_t wide : {1, 5, 7, 13, 16, 29, 45, 61, 70, 100}) {
          check_thin_bits<T>(wide, wide + 3, thin, ta, tb, alpha, beta, with_bias, pad);      // k
          if (ta) check_thin_bits<T>(wide, thin, 300, ta, tb, alpha, beta, with_bias, pad);   // n
          if (!tb) check_thin_bits<T>(thin, wide, 300, ta, tb, alpha, beta, with_bias, pad);  // m
          if (!ta) check_thin_bits<T>(wide, thin, 300, ta, tb, alpha, beta, with_bias);       // dot
        }
      }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gemm)

BOOST_AUTO_TEST_CASE(odd_sizes_all_transposes_f32) {
  sweep<float>();
}
BOOST_AUTO_TEST_CASE(odd_sizes_all_transposes_f64) {
  sweep<double>();
}

BOOST_AUTO_TEST_CASE(alpha_beta_and_multiple_k_blocks) {
  // k = 600 spans three KC blocks; m, n exceed one MC block and several NR slivers.
  check_gemm<double>(300, 70, 600, false, false, 0.5, 2.0);
  check_gemm<float>(300, 70, 600, true, true, -1.0f, 1.0f);
  check_gemm<double>(5, 3000, 9, false, true, 1.0, 0.0);  // n spans two NC panels
  // beta = 0 with alpha != 1 and no bias (C unread, alpha applied), and alpha = 0 (C = beta C
  // where alpha op(A) op(B) is finite), every transpose, tiles and thin shapes.
  for (int t = 0; t < 4; ++t) {
    check_gemm<float>(33, 257, 33, t & 1, t & 2, 0.3f, 0.0f);
    check_gemm<double>(257, 7, 300, t & 1, t & 2, -2.5, 0.0);
    check_gemm<float>(70, 90, 40, t & 1, t & 2, 0.0f, 0.5f);
    check_gemm<double>(3, 90, 40, t & 1, t & 2, 0.0, 0.0, true);
  }
}

BOOST_AUTO_TEST_CASE(padded_leading_dimensions) {
  // Every leading dimension wider than its rows, on shapes the tiles take (every dimension
  // above 4, several k-blocks and MC blocks), with and without beta and the bias: the padding
  // stays untouched and the products match the triple loop.
  for (int t = 0; t < 4; ++t) {
    check_gemm<float>(257, 133, 300, t & 1, t & 2, 1.0f, 0.0f, true, 5);
    check_gemm<float>(70, 90, 40, t & 1, t & 2, -0.5f, 2.0f, false, 17);
    check_gemm<double>(129, 65, 270, t & 1, t & 2, 1.0, 0.5, true, 3);
  }
}

BOOST_AUTO_TEST_CASE(empty_inner_dimension_ignores_alpha) {
  // k = 0: C = beta C (+ bias), whatever alpha is (BLAS's rule): alpha = NaN, inf and -1 leave
  // no NaN and no -0 behind, and a -0 bias is stored as -0.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double alpha : {nan, inf, -1.0})
    for (double beta : {0.0, 0.5})
      for (bool bias : {false, true}) {
        check_gemm<double>(3, 5, 0, false, true, alpha, beta, bias);
        check_gemm<float>(7, 33, 0, true, false, static_cast<float>(alpha),
                          static_cast<float>(beta), bias);
      }
}

BOOST_AUTO_TEST_CASE(prefetched_blocks_stay_inside_the_operands) {
  // Shapes where gemm_tiled prefetches the next block of op(A) and panel of op(B) (operands
  // over 256 KiB; m, n, k >= 128): the next rows, the next k block (k > KC = 256), the next
  // NC-column panel, and A read in place (n <= 16 NR, A not transposed), with every tile
  // kernel this CPU runs (NR and NC are the kernel's). A prefetch cannot change a result or
  // fault; under AddressSanitizer each prefetched row's ends are also read, so this test fails
  // there if a block leaves its operand. One thread: a split GEMM's parts could be too small
  // to prefetch.
  const flowtape::test::ScopedThreads one(1);
  for (const auto& kernel : flowtape::test::runnable_tile_kernels()) {
    const flowtape::test::ScopedTileKernel use(kernel.name);
    const std::int64_t nr32 = kernel.f32_columns, nr64 = nr32 / 2;
    for (int t = 0; t < 4; ++t) {
      check_gemm<double>(200, 128 * nr64 + 6, 300, t & 1, t & 2, 1.0, 0.5);
      check_gemm<float>(300, 128 * nr32 + 12, 260, t & 1, t & 2, 1.0f, 0.0f);
    }
    check_gemm<float>(1100, 16 * nr32, 300, false, true, 1.0f, 0.0f, true);
    check_gemm<double>(700, 16 * nr64, 300, false, false, 1.0, 0.5);
  }
}

BOOST_AUTO_TEST_CASE(bias_epilogue) {
  // Ragged tiles in both directions, the in-place-A path (up to 16 slivers, A not transposed), the
  // packed path, the thin kernels (a dimension of at most 4), several k-blocks (the bias is added
  // once) and two NC panels (the bias offset per panel).
  for (std::int64_t m : {1, 7, 64, 257})
    for (std::int64_t n : {1, 2, 33, 200})
      for (std::int64_t k : {1, 64, 600})
        for (int t = 0; t < 4; ++t) check_gemm<float>(m, n, k, t & 1, t & 2, 1.0f, 0.0f, true);
  // Packed, not transposed A (more than 16 slivers), full and ragged slivers, both dtypes.
  check_gemm<float>(50, 300, 64, false, true, 1.0f, 0.0f, true);
  check_gemm<float>(48, 517, 300, false, false, 1.0f, 0.0f, true);
  check_gemm<double>(37, 300, 70, false, false, 1.0, 0.0, true);
  check_gemm<double>(300, 70, 600, false, true, 0.5, 2.0, true);
  check_gemm<double>(5, 3000, 9, false, true, 1.0, 0.0, true);
  check_gemm<float>(301, 2, 67, false, true, -1.0f, 0.5f, true);
  // k = 0: C = beta C + bias.
  std::vector<double> c = {1, 2, 3, 4};
  const std::vector<double> bias = {10, 20};
  flowtape::kernels::cpu::gemm<double>(false, true, 2, 2, 0, 1.0, nullptr, 1, nullptr, 1, 0.5,
                                       c.data(), 2, bias.data());
  BOOST_TEST(c == (std::vector<double>{10.5, 21, 11.5, 22}), boost::test_tools::per_element());
  // The affine layer with no input features: every row is the bias, signed zeros included.
  for (std::int64_t m : {1, 7})
    for (std::int64_t n : {1, 33}) check_gemm<float>(m, n, 0, false, true, 1.0f, 0.0f, true);
}

BOOST_AUTO_TEST_CASE(skinny_output_with_beta) {
  // n <= 4, k > 4 with op(A) = A takes the row-dot-product kernel; k <= 4 the rank-k update.
  check_gemm<float>(301, 2, 67, false, true, 1.0f, 0.5f);
  check_gemm<float>(301, 3, 67, false, false, 1.0f, 0.5f);
  check_gemm<double>(5, 4, 3, false, true, -2.0, 0.0);
}

BOOST_AUTO_TEST_CASE(thin_kernels_match_the_tiles_bit_for_bit_f32) {
  thin_sweep<float>();
}
BOOST_AUTO_TEST_CASE(thin_kernels_match_the_tiles_bit_for_bit_f64) {
  thin_sweep<double>();
}

// A transposed A whose rows are at most 256 bytes apart (64 f32 or 32 f64 values: a weight
// gradient x^T g at width <= 64) is read in place; with wider rows it is packed. Both must
// give the same bits: the same data with its rows 80 values apart takes the packed path.
template <class T>
void check_transposed_a_in_place() {
  constexpr std::int64_t kWideLd = 80;
  const std::int64_t limit = 256 / static_cast<std::int64_t>(sizeof(T));
  for (std::int64_t m : {std::int64_t{6}, std::int64_t{7}, limit - 24, limit})
    for (std::int64_t n : {16, 64, 100})
      for (std::int64_t k : {5, 300}) {
        const auto a = random_vector<T>(static_cast<std::size_t>(k * m), 31);
        std::vector<T> a_wide(static_cast<std::size_t>(k * kWideLd), T(0));
        for (std::int64_t p = 0; p < k; ++p)
          std::copy_n(a.begin() + p * m, m, a_wide.begin() + p * kWideLd);
        const auto b = random_vector<T>(static_cast<std::size_t>(k * n), 32);
        const auto bias = random_vector<T>(static_cast<std::size_t>(n), 33);
        std::vector<T> in_place(static_cast<std::size_t>(m * n)), packed(in_place.size());
        gemm_detail::gemm_tiled<T>(true, false, m, n, k, T(0.3), a.data(), m, b.data(), n, T(0),
                                   in_place.data(), n, bias.data());
        gemm_detail::gemm_tiled<T>(true, false, m, n, k, T(0.3), a_wide.data(), kWideLd, b.data(),
                                   n, T(0), packed.data(), n, bias.data());
        BOOST_TEST(std::memcmp(in_place.data(), packed.data(), packed.size() * sizeof(T)) == 0,
                   "bits differ: m=" << m << " n=" << n << " k=" << k);
      }
}

BOOST_AUTO_TEST_CASE(transposed_a_in_place_matches_packed_bits_f32) {
  check_transposed_a_in_place<float>();
}
BOOST_AUTO_TEST_CASE(transposed_a_in_place_matches_packed_bits_f64) {
  check_transposed_a_in_place<double>();
}

// Two threads split C into whole micro-tiles, so results are bit-identical to one thread;
// the elementwise maps split into chunks, which does not change any element either.
BOOST_AUTO_TEST_CASE(threads_give_identical_results) {
  namespace cpu = flowtape::kernels::cpu;
  const std::int64_t m = 301, n = 70, k = 600;
  const auto a = random_vector<float>(static_cast<std::size_t>(m * k), 1);
  const auto b = random_vector<float>(static_cast<std::size_t>(k * n), 2);
  std::vector<float> c1(static_cast<std::size_t>(m * n)), c2(c1.size()), c3(c1.size());
  flowtape::set_num_threads(1);
  cpu::gemm<float>(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c1.data(), n);
  std::vector<float> e1(a.size()), e2(a.size());
  map_unary(a.data(), e1.data(), static_cast<std::int64_t>(a.size()), fn::Silu{});
  flowtape::set_num_threads(2);
  BOOST_TEST(flowtape::get_num_threads() == 2);
  cpu::gemm<float>(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c2.data(), n);
  // Wide and short: split by columns.
  cpu::gemm<float>(true, true, n, m, k, 1.0f, b.data(), n, a.data(), k, 0.0f, c3.data(), m);
  map_unary(a.data(), e2.data(), static_cast<std::int64_t>(a.size()), fn::Silu{});
  flowtape::set_num_threads(1);
  BOOST_TEST(c1 == c2);
  BOOST_TEST(e1 == e2);
  std::vector<float> c4(c3.size());
  cpu::gemm<float>(true, true, n, m, k, 1.0f, b.data(), n, a.data(), k, 0.0f, c4.data(), m);
  BOOST_TEST(c3 == c4);
  // With a bias: each column block adds its own part of the bias row.
  const auto bias = random_vector<float>(static_cast<std::size_t>(m), 5);
  std::vector<float> d1(c3.size()), d2(c3.size());
  cpu::gemm<float>(true, true, n, m, k, 1.0f, b.data(), n, a.data(), k, 0.0f, d1.data(), m,
                   bias.data());
  flowtape::set_num_threads(2);
  cpu::gemm<float>(true, true, n, m, k, 1.0f, b.data(), n, a.data(), k, 0.0f, d2.data(), m,
                   bias.data());
  flowtape::set_num_threads(1);
  BOOST_TEST(d1 == d2);
  BOOST_TEST(d1[m - 1] != c4[m - 1]);
}

// A split that would leave a block of at most 4 columns (which would take the dot-product
// kernel, whose bits differ from the tiles') or rows gives them to the previous block. The
// split is in whole tiles of the kernel in use (`unit` = NR columns or MR rows) into at most
// one block per thread, each at least 96 wide, so the extent that leaves one over depends on
// the kernel: with T threads and blocks of c units, extent = (T - 1) c unit + 1 splits into T
// blocks (the last of one) when c <= T and extent >= 96 T. Every tile kernel this CPU runs,
// both op(B)s, columns (A not transposed: the dot-product kernel) and rows.
namespace {
struct Split {
  int threads;
  std::int64_t extent;
};
Split split_leaving_one(std::int64_t unit) {
  for (int t = 7;; ++t) {
    const std::int64_t c = (96 * t - 1 + (t - 1) * unit - 1) / ((t - 1) * unit);
    if (c <= t) return {t, (t - 1) * c * unit + 1};
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(thread_split_leaves_no_thin_block) {
  namespace cpu = flowtape::kernels::cpu;
  for (const auto& kernel : flowtape::test::runnable_tile_kernels()) {
    const flowtape::test::ScopedTileKernel use(kernel.name);
    for (bool by_rows : {false, true}) {
      const Split sp = split_leaving_one(by_rows ? kernel.rows : kernel.f32_columns);
      const std::int64_t m = by_rows ? sp.extent : 600, n = by_rows ? 600 : sp.extent, k = 64;
      for (bool tb : {false, true}) {
        const std::int64_t ldb = tb ? k : n;
        const auto a = random_vector<float>(static_cast<std::size_t>(m * k), 21);
        const auto b = random_vector<float>(static_cast<std::size_t>(k * n), 22);
        const auto bias = random_vector<float>(static_cast<std::size_t>(n), 23);
        std::vector<float> one(static_cast<std::size_t>(m * n)), many(one.size());
        flowtape::set_num_threads(1);
        cpu::gemm<float>(false, tb, m, n, k, 1.0f, a.data(), k, b.data(), ldb, 0.0f, one.data(), n,
                         bias.data());
        flowtape::set_num_threads(sp.threads);
        cpu::gemm<float>(false, tb, m, n, k, 1.0f, a.data(), k, b.data(), ldb, 0.0f, many.data(), n,
                         bias.data());
        flowtape::set_num_threads(1);
        BOOST_TEST(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)) == 0,
                   kernel.name << ": bits differ with " << sp.threads << " threads: m=" << m
                               << " n=" << n << " tb=" << tb);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(empty_inner_dimension) {
  std::vector<double> c = {1, 2, 3, 4};
  flowtape::kernels::cpu::gemm<double>(false, false, 2, 2, 0, 1.0, nullptr, 1, nullptr, 2, 0.5,
                                       c.data(), 2);
  BOOST_TEST(c[3] == 2.0);
  flowtape::kernels::cpu::gemm<double>(false, false, 2, 2, 0, 1.0, nullptr, 1, nullptr, 2, 0.0,
                                       c.data(), 2);
  BOOST_TEST(c[0] == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
