// SPDX-License-Identifier: MIT
// Axis reductions against plain loops, for every layout: contiguous axis (inner == 1),
// strided axis, odd lengths, and the log-sum-exp edge cases; the whole-buffer sum of squares.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>

#include "flowtape/kernels/cpu/reduce.hpp"
#include "support/reference.hpp"

using namespace flowtape::kernels::cpu;
using flowtape::test::kOddSizes;
using flowtape::test::max_rel_error;
using flowtape::test::random_vector;
using flowtape::test::tolerance;

namespace {

template <class T>
void check_layouts() {
  for (std::int64_t len : kOddSizes)
    for (std::int64_t inner : {std::int64_t{1}, std::int64_t{7}, std::int64_t{33}}) {
      const AxisView v{3, len, inner};
      const auto x = random_vector<T>(static_cast<std::size_t>(v.outer * len * inner), 11u, -3, 3);
      const std::size_t m = static_cast<std::size_t>(v.outer * inner);
      std::vector<T> s(m), mx(m), lse(m), sm(x.size());
      std::vector<T> rs(m), rmx(m), rlse(m), rsm(x.size());
      sum_axis(x.data(), s.data(), v);
      max_axis(x.data(), mx.data(), v);
      logsumexp_axis(x.data(), lse.data(), v);
      softmax_axis(x.data(), sm.data(), v);
      for (std::int64_t o = 0; o < v.outer; ++o)
        for (std::int64_t j = 0; j < inner; ++j) {
          double acc = 0, best = -1e300, e = 0;
          for (std::int64_t k = 0; k < len; ++k) {
            const double xv = x[static_cast<std::size_t>((o * len + k) * inner + j)];
            acc += xv;
            best = std::max(best, xv);
          }
          for (std::int64_t k = 0; k < len; ++k)
            e += std::exp(x[static_cast<std::size_t>((o * len + k) * inner + j)] - best);
          const std::size_t r = static_cast<std::size_t>(o * inner + j);
          rs[r] = static_cast<T>(acc);
          rmx[r] = static_cast<T>(best);
          rlse[r] = static_cast<T>(best + std::log(e));
          for (std::int64_t k = 0; k < len; ++k) {
            const std::size_t i = static_cast<std::size_t>((o * len + k) * inner + j);
            rsm[i] = static_cast<T>(std::exp(x[i] - best) / e);
          }
        }
      const double tol = tolerance<T>() * (sizeof(T) == 4 ? 10 : 100);
      BOOST_TEST(max_rel_error(s, rs) < tol, "sum len=" << len << " inner=" << inner);
      BOOST_TEST(max_rel_error(mx, rmx) == 0.0, "max len=" << len << " inner=" << inner);
      BOOST_TEST(max_rel_error(lse, rlse) < tol, "lse len=" << len << " inner=" << inner);
      // Probabilities are below 1, where max_rel_error's error is an absolute one (5% of a
      // 1/257 entry fit in it): softmax against a truly relative bound.
      double sm_worst = 0;
      for (std::size_t i = 0; i < sm.size(); ++i)
        sm_worst = std::max(sm_worst, std::abs(static_cast<double>(sm[i]) - rsm[i]) /
                                          (std::abs(static_cast<double>(rsm[i])) +
                                           static_cast<double>(std::numeric_limits<T>::min())));
      BOOST_TEST(sm_worst < tol, "softmax len=" << len << " inner=" << inner);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reduce)

BOOST_AUTO_TEST_CASE(layouts_f32) {
  check_layouts<float>();
}
BOOST_AUTO_TEST_CASE(layouts_f64) {
  check_layouts<double>();
}

BOOST_AUTO_TEST_CASE(logsumexp_is_stable) {
  const double inf = std::numeric_limits<double>::infinity();
  for (std::int64_t inner : {1, 3}) {
    std::vector<double> x;
    for (double v : {1e4, 1e4 + 1.0, -inf}) x.insert(x.end(), static_cast<std::size_t>(inner), v);
    std::vector<double> y(static_cast<std::size_t>(inner));
    logsumexp_axis(x.data(), y.data(), {1, 3, inner});
    BOOST_TEST(std::abs(y[0] - (1e4 + 1.0 + std::log1p(std::exp(-1.0)))) < 1e-9);
    std::vector<double> all_neg_inf(static_cast<std::size_t>(3 * inner), -inf);
    logsumexp_axis(all_neg_inf.data(), y.data(), {1, 3, inner});
    BOOST_TEST(y[0] == -inf);
  }
}

BOOST_AUTO_TEST_CASE(softmax_of_large_logits_is_normalised) {
  // f32 logits near -1e6 (the closed-form velocity near t = 1 produces such): the weights must
  // still sum to 1; exp(x - logsumexp) would be off by ~5% from rounding lse.
  for (std::int64_t inner : {1, 3}) {
    std::vector<float> x;
    for (float v : {-1.0e6f, -1.0e6f, -1.0e6f - 50.0f, -1.0e6f + 0.5f})
      x.insert(x.end(), static_cast<std::size_t>(inner), v);
    std::vector<float> y(x.size());
    softmax_axis(x.data(), y.data(), {1, 4, inner});
    const double e = std::exp(-0.5);
    BOOST_TEST(std::abs(y[0] - e / (1 + 2 * e)) < 1e-6);
    BOOST_TEST(std::abs(y[3 * inner] - 1 / (1 + 2 * e)) < 1e-6);
    BOOST_TEST(y[2 * inner] < 1e-20);
  }
}

BOOST_AUTO_TEST_CASE(max_propagates_nan) {
  std::vector<float> x(33, 1.0f), y(1);
  x[20] = std::numeric_limits<float>::quiet_NaN();
  max_axis(x.data(), y.data(), {1, 33, 1});
  BOOST_TEST(std::isnan(y[0]));
  // Rows shorter than a SIMD batch take their own path (see reduce.cpp).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> rows = {1, nan, nan, 2, -1, -3};
  std::vector<float> m(3);
  max_axis(rows.data(), m.data(), {3, 2, 1});
  BOOST_TEST((std::isnan(m[0]) && std::isnan(m[1]) && m[2] == -1.0f));
}

// Short contiguous rows (len below the SIMD width, as in a per-sample loss over 2 coordinates)
// and strided axes fold in order: the same bits as a left-to-right sum, signed zeros included.
BOOST_AUTO_TEST_CASE(short_rows_fold_in_order) {
  for (std::int64_t len = 1; len < 9; ++len) {
    const std::int64_t outer = 37;
    auto x = random_vector<float>(static_cast<std::size_t>(outer * len), 5u, -1e4, 1e4);
    for (std::size_t i = 0; i < x.size(); i += 5) x[i] = 1e-4f;  // sums that round
    std::vector<float> s(static_cast<std::size_t>(outer)), mx(s.size());
    sum_axis(x.data(), s.data(), {outer, len, 1});
    max_axis(x.data(), mx.data(), {outer, len, 1});
    for (std::int64_t o = 0; o < outer; ++o) {
      float acc = 0, best = -std::numeric_limits<float>::infinity();
      for (std::int64_t k = 0; k < len; ++k) {
        acc += x[static_cast<std::size_t>(o * len + k)];
        best = std::max(best, x[static_cast<std::size_t>(o * len + k)]);
      }
      BOOST_TEST(s[static_cast<std::size_t>(o)] == acc, "len=" << len << " row " << o);
      BOOST_TEST(mx[static_cast<std::size_t>(o)] == best, "len=" << len << " row " << o);
    }
  }
  // Strided axes (a bias gradient's column sums) fold each column in row order too: inner
  // widths below, at and above the four-batch register block, with a ragged last batch.
  for (std::int64_t inner : {3, 33, 64, 75, 130}) {
    const std::int64_t len = 41;
    auto x = random_vector<float>(static_cast<std::size_t>(len * inner), 9u, -1e4, 1e4);
    for (std::size_t i = 0; i < x.size(); i += 3) x[i] = 1e-4f;
    std::vector<float> s(static_cast<std::size_t>(inner));
    sum_axis(x.data(), s.data(), {1, len, inner});
    int differ = 0;
    for (std::int64_t j = 0; j < inner; ++j) {
      float acc = 0;
      for (std::int64_t k = 0; k < len; ++k) acc += x[static_cast<std::size_t>(k * inner + j)];
      differ += s[static_cast<std::size_t>(j)] != acc;
    }
    BOOST_TEST(differ == 0, "inner=" << inner);
  }
  const std::vector<float> zeros = {-0.0f, -0.0f};
  float z = 1;
  sum_axis(zeros.data(), &z, {1, 2, 1});
  BOOST_TEST((z == 0.0f && !std::signbit(z)));  // 0 + -0 + -0 = +0, as reduce_row gives
}

// The sum of squares against a long double loop at lengths around its 16 running sums, exact
// where every partial sum is an integer, in f64 where f32 squares would overflow, and with
// non-finite values passed through.
BOOST_AUTO_TEST_CASE(sum_of_squares_in_f64) {
  for (std::int64_t n : {0, 1, 15, 16, 17, 31, 1000, 1003}) {
    const auto x = random_vector<float>(static_cast<std::size_t>(n), 5u, -3, 3);
    long double want = 0;
    for (float v : x) want += static_cast<long double>(v) * v;
    const double got = sum_of_squares(x.data(), n);
    BOOST_TEST(std::abs(got - static_cast<double>(want)) <= 1e-14 * static_cast<double>(want),
               "n=" << n << " got " << got << " want " << static_cast<double>(want));
  }
  // Bit for bit against its documented order (element i into sum i % 16, then the pairwise
  // tree), on values spread over 24 binades so that another order would round differently.
  // f32 inputs: their squares are exact in f64, so the model's own compilation (fused or not)
  // cannot move its bits.
  for (std::int64_t n : {5, 16, 37, 1003}) {
    auto x = random_vector<float>(static_cast<std::size_t>(n), 7u, -1, 1);
    for (std::size_t i = 0; i < x.size(); ++i)
      x[i] = std::ldexp(x[i], static_cast<int>(i % 24) - 12);
    double sums[16] = {};
    for (std::int64_t i = 0; i < n; ++i) {
      const double v = x[static_cast<std::size_t>(i)];
      sums[i % 16] += v * v;
    }
    for (int width = 8; width >= 1; width /= 2)
      for (int l = 0; l < width; ++l) sums[l] += sums[l + width];
    double serial = 0;
    for (float v : x) serial += static_cast<double>(v) * v;
    BOOST_TEST(sum_of_squares(x.data(), n) == sums[0], "n=" << n);
    if (n == 1003) BOOST_TEST(serial != sums[0]);  // the data does tell the orders apart
  }
  std::vector<double> ints(1003);
  double exact = 0;
  for (std::size_t i = 0; i < ints.size(); ++i) {
    ints[i] = static_cast<double>(i % 7) - 3;
    exact += ints[i] * ints[i];
  }
  BOOST_TEST(sum_of_squares(ints.data(), 1003) == exact);
  const std::vector<float> large(5, 3e19f);  // each square is 9e38, above FLT_MAX
  BOOST_TEST(std::abs(sum_of_squares(large.data(), 5) - 4.5e39) <= 1e-6 * 4.5e39);
  std::vector<float> bad(40, 1.0f);
  bad[23] = std::numeric_limits<float>::infinity();
  BOOST_TEST(std::isinf(sum_of_squares(bad.data(), 40)));
  bad[7] = std::numeric_limits<float>::quiet_NaN();
  BOOST_TEST(std::isnan(sum_of_squares(bad.data(), 40)));
}

BOOST_AUTO_TEST_SUITE_END()
