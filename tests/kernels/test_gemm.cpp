// The packed GEMM against the triple loop: every transpose combination, odd sizes that
// straddle the register tile and the cache blocks, beta = 0 (C unread) and beta != 0.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "kernels/cpu/gemm.hpp"
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

BOOST_AUTO_TEST_CASE(empty_inner_dimension) {
  std::vector<double> c = {1, 2, 3, 4};
  flowtape::kernels::cpu::gemm<double>(false, false, 2, 2, 0, 1.0, nullptr, 1, nullptr, 2, 0.5, c.data(), 2);
  BOOST_TEST(c[3] == 2.0);
  flowtape::kernels::cpu::gemm<double>(false, false, 2, 2, 0, 1.0, nullptr, 1, nullptr, 2, 0.0, c.data(), 2);
  BOOST_TEST(c[0] == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
