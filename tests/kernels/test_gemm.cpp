// The packed GEMM against the triple loop: every transpose combination, odd sizes that
// straddle the register tile and the cache blocks, beta = 0 (C unread) and beta != 0.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/math.hpp"
#include "kernels/cpu/parallel.hpp"
#include "support/reference.hpp"

using namespace flowtape::kernels::cpu;
using flowtape::test::max_rel_error;
using flowtape::test::random_vector;

namespace {

template <class T>
void check_gemm(std::int64_t m, std::int64_t n, std::int64_t k, bool ta, bool tb, T alpha, T beta) {
  const auto a = random_vector<T>(static_cast<std::size_t>(m * k), 1);
  const auto b = random_vector<T>(static_cast<std::size_t>(k * n), 2);
  auto c = random_vector<T>(static_cast<std::size_t>(m * n), 3);
  if (beta == T(0)) std::fill(c.begin(), c.end(), std::numeric_limits<T>::quiet_NaN());
  auto expect = c;
  const std::int64_t lda = ta ? m : k, ldb = tb ? k : n;
  gemm<T>(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), n);
  gemm_reference<T>(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, expect.data(), n);
  const double tol = (sizeof(T) == 4 ? 3e-6 : 1e-14) * static_cast<double>(std::max<std::int64_t>(k, 1));
  BOOST_TEST(max_rel_error(c, expect) < tol,
             "m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " tb=" << tb << " beta=" << beta);
}

template <class T>
void sweep() {
  for (std::int64_t m : {1, 7, 33, 257})
    for (std::int64_t n : {1, 7, 33, 257})
      for (std::int64_t k : {1, 7, 33, 257})
        for (int t = 0; t < 4; ++t) check_gemm<T>(m, n, k, t & 1, t & 2, T(1), T(0));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gemm)

BOOST_AUTO_TEST_CASE(odd_sizes_all_transposes_f32) { sweep<float>(); }
BOOST_AUTO_TEST_CASE(odd_sizes_all_transposes_f64) { sweep<double>(); }

BOOST_AUTO_TEST_CASE(alpha_beta_and_multiple_k_blocks) {
  // k = 600 spans three KC blocks; m, n exceed one MC block and several NR slivers.
  check_gemm<double>(300, 70, 600, false, false, 0.5, 2.0);
  check_gemm<float>(300, 70, 600, true, true, -1.0f, 1.0f);
  check_gemm<double>(5, 3000, 9, false, true, 1.0, 0.0);  // n spans two NC panels
}

BOOST_AUTO_TEST_CASE(skinny_output_with_beta) {
  // n <= 4 with op(B) = B^T takes the row-dot-product path.
  check_gemm<float>(301, 2, 67, false, true, 1.0f, 0.5f);
  check_gemm<double>(5, 4, 3, false, true, -2.0, 0.0);
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
}

BOOST_AUTO_TEST_CASE(empty_inner_dimension) {
  std::vector<double> c = {1, 2, 3, 4};
  flowtape::kernels::cpu::gemm<double>(false, false, 2, 2, 0, 1.0, nullptr, 1, nullptr, 2, 0.5, c.data(), 2);
  BOOST_TEST(c[3] == 2.0);
  flowtape::kernels::cpu::gemm<double>(false, false, 2, 2, 0, 1.0, nullptr, 1, nullptr, 2, 0.0, c.data(), 2);
  BOOST_TEST(c[0] == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
