// SPDX-License-Identifier: MIT
// Elementwise kernels against plain loops over std:: math, on odd sizes and broadcast shapes.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <limits>

#include "flowtape/kernels/cpu/elementwise.hpp"
#include "flowtape/kernels/cpu/math.hpp"
#include "support/reference.hpp"
#include "support/threads.hpp"

using namespace flowtape::kernels::cpu;
using flowtape::test::kOddSizes;
using flowtape::test::max_rel_error;
using flowtape::test::random_vector;
using flowtape::test::tolerance;

namespace {

template <class T, class F, class R>
void check_unary(F f, R ref, double lo, double hi) {
  for (std::int64_t n : kOddSizes) {
    const auto x = random_vector<T>(static_cast<std::size_t>(n), 7u + static_cast<unsigned>(n), lo, hi);
    std::vector<T> y(x.size()), expect(x.size());
    map_unary(x.data(), y.data(), n, f);
    for (std::size_t i = 0; i < x.size(); ++i) expect[i] = static_cast<T>(ref(static_cast<double>(x[i])));
    BOOST_TEST(max_rel_error(y, expect) < 4 * tolerance<T>(), "n = " << n);
  }
}

// The same against a truly relative bound, |y - ref| <= rtol |ref| (plus the dtype's least
// normal, for results that are 0): max_rel_error's max(1, |ref|) makes any error below 1 an
// absolute one, so a sigmoid that flushed its far tail to 0 passed.
template <class T, class F, class R>
void check_unary_relative(const char* name, F f, R ref, double lo, double hi, double rtol) {
  const auto x = random_vector<T>(4099, 11u, lo, hi);
  std::vector<T> y(x.size());
  map_unary(x.data(), y.data(), static_cast<std::int64_t>(x.size()), f);
  double worst = 0, at = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double want = static_cast<double>(static_cast<T>(ref(static_cast<double>(x[i]))));
    const double e = std::abs(static_cast<double>(y[i]) - want) /
                     (std::abs(want) + static_cast<double>(std::numeric_limits<T>::min()));
    if (!(e <= worst)) worst = e, at = static_cast<double>(x[i]);
  }
  BOOST_TEST(worst <= rtol, name << ": relative error " << worst << " at x = " << at);
}

template <class T>
void check_tails_relative() {
  const double ulp = std::numeric_limits<T>::epsilon();
  const auto sigmoid = [](double v) { return 1 / (1 + std::exp(-v)); };
  check_unary_relative<T>(
      "exp", fn::Exp{}, [](double v) { return std::exp(v); }, -80, 80, 8 * ulp);
  check_unary_relative<T>("sigmoid", fn::Sigmoid{}, sigmoid, -80, 30, 8 * ulp);
  check_unary_relative<T>(
      "silu", fn::Silu{}, [&](double v) { return v * sigmoid(v); }, -80, 30, 8 * ulp);
  check_unary_relative<T>(
      "softplus", fn::Softplus{}, [](double v) { return std::log1p(std::exp(v)); }, -80, 30,
      8 * ulp);
  check_unary_relative<T>(
      "tanh", fn::Tanh{}, [](double v) { return std::tanh(v); }, -8, 8, 8 * ulp);
}

template <class T>
void check_all_unary() {
  check_unary<T>(fn::Exp{}, [](double v) { return std::exp(v); }, -5, 5);
  check_unary<T>(fn::Log{}, [](double v) { return std::log(v); }, 0.01, 10);
  check_unary<T>(fn::Expm1{}, [](double v) { return std::expm1(v); }, -5, 5);
  check_unary<T>(fn::Log1p{}, [](double v) { return std::log1p(v); }, -0.9, 10);
  check_unary<T>(fn::Sqrt{}, [](double v) { return std::sqrt(v); }, 0, 10);
  check_unary<T>(fn::Tanh{}, [](double v) { return std::tanh(v); }, -4, 4);
  check_unary<T>(fn::Sin{}, [](double v) { return std::sin(v); }, -6, 6);
  check_unary<T>(fn::Cos{}, [](double v) { return std::cos(v); }, -6, 6);
  check_unary<T>(fn::Sigmoid{}, [](double v) { return 1 / (1 + std::exp(-v)); }, -30, 30);
  check_unary<T>(fn::Silu{}, [](double v) { return v / (1 + std::exp(-v)); }, -30, 30);
  check_unary<T>(fn::Softplus{}, [](double v) { return std::log1p(std::exp(v)); }, -30, 30);
  check_unary<T>(fn::Relu{}, [](double v) { return v > 0 ? v : 0; }, -3, 3);
  check_unary<T>(fn::Abs{}, [](double v) { return std::abs(v); }, -3, 3);
  check_unary<T>(fn::PowScalar{1.5}, [](double v) { return std::pow(v, 1.5); }, 0.1, 4);
}

// map_unary and map_unary2 against f applied one element at a time (a one-lane partial
// batch), bit for bit: every length from 0 to 5 batches (pairs of batches, a single leftover
// batch, a partial tail), on one thread and on two with chunks over kParallelElements.
template <class T>
void check_unary_batch_splits() {
  const auto one_by_one = [](const std::vector<T>& x, auto f, std::vector<T>& y,
                             std::vector<T>& z) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      const auto [a, b] = f(load_partial(x.data() + i, 1));
      store_partial(a, y.data() + i, 1);
      store_partial(b, z.data() + i, 1);
    }
  };
  const auto same = [](const std::vector<T>& u, const std::vector<T>& v) {
    return u.size() == v.size() &&
           (u.empty() || std::memcmp(u.data(), v.data(), u.size() * sizeof(T)) == 0);
  };
  std::vector<std::int64_t> sizes;
  for (std::int64_t n = 0; n <= 5 * kWidth<T>; ++n) sizes.push_back(n);
  sizes.push_back(kParallelElements + 37);
  for (int threads : {1, 2}) {
    const flowtape::test::ScopedThreads scoped(threads);
    for (std::int64_t n : sizes) {
      const auto x =
          random_vector<T>(static_cast<std::size_t>(n), 40u + static_cast<unsigned>(n), -8, 8);
      std::vector<T> y(x.size()), z(x.size()), y1(x.size()), z1(x.size()), s(x.size());
      map_unary2(x.data(), y.data(), z.data(), n, fn::SiluAndDenominator{});
      map_unary(x.data(), s.data(), n, fn::Silu{});
      one_by_one(x, fn::SiluAndDenominator{}, y1, z1);
      BOOST_TEST((same(y, y1) && same(z, z1) && same(s, y1)),
                 "n = " << n << ", threads = " << threads);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(elementwise)

BOOST_AUTO_TEST_CASE(unary_matches_reference_f32) { check_all_unary<float>(); }
BOOST_AUTO_TEST_CASE(unary_matches_reference_f64) { check_all_unary<double>(); }
BOOST_AUTO_TEST_CASE(unary_tails_are_relatively_accurate_f32) {
  check_tails_relative<float>();
}
BOOST_AUTO_TEST_CASE(unary_tails_are_relatively_accurate_f64) {
  check_tails_relative<double>();
}

BOOST_AUTO_TEST_CASE(unary_maps_give_the_bits_of_one_element_at_a_time_f32) {
  check_unary_batch_splits<float>();
}
BOOST_AUTO_TEST_CASE(unary_maps_give_the_bits_of_one_element_at_a_time_f64) {
  check_unary_batch_splits<double>();
}

BOOST_AUTO_TEST_CASE(softplus_does_not_overflow) {
  std::vector<double> x = {-1000, -50, 0, 50, 1000}, y(5);
  map_unary(x.data(), y.data(), 5, fn::Softplus{});
  BOOST_TEST(y[0] == 0.0);
  BOOST_TEST(std::abs(y[2] - std::log(2.0)) < 1e-15);
  BOOST_TEST(y[4] == 1000.0);
}

// The edges of IEEE's range: expm1 where xsimd's exp overflows early, a tiny silu and sigmoid
// that xsimd's exp flushed to zero, signed zeros, and pow's special cases and accuracy at
// large x (each within an ulp or two of std::, where xsimd's pow lost hundreds).
BOOST_AUTO_TEST_CASE(edges_of_the_range_and_ieee_special_cases) {
  std::vector<float> xf = {88.5f, -88.5f, -0.0f}, yf(3);
  map_unary(xf.data(), yf.data(), 3, fn::Expm1{});
  BOOST_TEST(std::isfinite(yf[0]));
  BOOST_TEST(std::abs(yf[0] / std::expm1(88.5f) - 1) < 1e-6);
  BOOST_TEST((yf[2] == 0 && std::signbit(yf[2])));
  map_unary(xf.data(), yf.data(), 3, fn::Silu{});
  BOOST_TEST(yf[1] < -1e-37f);  // -3.2e-37, a normal f32
  map_unary(xf.data(), yf.data(), 3, fn::Log1p{});
  BOOST_TEST((yf[2] == 0 && std::signbit(yf[2])));
  std::vector<double> xd = {709.5, -0.0, -INFINITY, 1.0}, yd(4);
  map_unary(xd.data(), yd.data(), 1, fn::Expm1{});
  BOOST_TEST(std::isfinite(yd[0]));
  map_unary(xd.data(), yd.data(), 4, fn::PowScalar{3});
  BOOST_TEST((yd[1] == 0 && std::signbit(yd[1])));  // (-0)^3 = -0
  map_unary(xd.data(), yd.data(), 4, fn::PowScalar{0.5});
  BOOST_TEST(yd[2] == INFINITY);  // (-inf)^0.5
  map_unary(xd.data(), yd.data(), 4, fn::PowScalar{std::nan("")});
  BOOST_TEST(yd[3] == 1.0);  // 1^NaN
  std::vector<double> big(100), cubes(100);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = std::pow(10.0, 50 + 0.5 * double(i));
  map_unary(big.data(), cubes.data(), 100, fn::PowScalar{3});
  for (std::size_t i = 0; i < big.size(); ++i)
    BOOST_TEST(std::abs(cubes[i] / std::pow(big[i], 3.0) - 1) <= 4 * 0x1p-52, "x = " << big[i]);
}

// Broadcast shapes: each case is (a shape, b shape, out shape), right-aligned like NumPy.
// Rank-2 outputs whose rows are shorter than one batch ([33, 2] against [33, 1]; [5, 3];
// [257, 5] in f32) take the gathering loop, and [40000, 3] against [40000, 1] is cut into
// chunks that start mid-row when two threads are set; each result must still be exactly
// a - b. Empty rows ([3, 0] against [3, 1]) write nothing.
template <class T>
void check_broadcast_sub() {
  struct Case {
    std::vector<std::int64_t> a, b, out;
  };
  const std::vector<Case> cases = {{{257}, {257}, {257}},
                                   {{33, 7}, {7}, {33, 7}},
                                   {{33, 1}, {1, 7}, {33, 7}},
                                   {{}, {7, 33}, {7, 33}},
                                   {{3, 1, 5}, {4, 1}, {3, 4, 5}},
                                   {{1}, {1}, {1}},
                                   {{2, 3, 1, 7}, {3, 33, 1}, {2, 3, 33, 7}},
                                   {{33, 2}, {33, 1}, {33, 2}},
                                   {{33, 1}, {33, 3}, {33, 3}},
                                   {{1, 3}, {5, 1}, {5, 3}},
                                   {{257, 5}, {5}, {257, 5}},
                                   {{4, 1, 3}, {4, 6, 1}, {4, 6, 3}},
                                   {{40000, 3}, {40000, 1}, {40000, 3}},
                                   {{3, 0}, {3, 1}, {3, 0}}};
  for (const auto& c : cases) {
    auto numel = [](const std::vector<std::int64_t>& s) {
      std::int64_t n = 1;
      for (auto d : s) n *= d;
      return n;
    };
    const auto a = random_vector<T>(static_cast<std::size_t>(numel(c.a)), 1);
    const auto b = random_vector<T>(static_cast<std::size_t>(numel(c.b)), 2);
    std::vector<T> y(static_cast<std::size_t>(numel(c.out)));
    map_broadcast<T, 2>({a.data(), b.data()}, {c.a.data(), c.b.data()},
                        {static_cast<int>(c.a.size()), static_cast<int>(c.b.size())}, y.data(),
                        c.out.data(), static_cast<int>(c.out.size()), fn::Sub{});
    // Reference: unravel each output index and map it into a and b.
    const int r = static_cast<int>(c.out.size());
    for (std::int64_t flat = 0; flat < numel(c.out); ++flat) {
      std::int64_t rem = flat, ia = 0, ib = 0, sa = 1, sb = 1;
      for (int d = r - 1; d >= 0; --d) {
        const std::int64_t i = rem % c.out[d];
        rem /= c.out[d];
        const int da = d - (r - static_cast<int>(c.a.size())), db = d - (r - static_cast<int>(c.b.size()));
        if (da >= 0) {
          ia += (c.a[da] == 1 ? 0 : i) * sa;
          sa *= c.a[da];
        }
        if (db >= 0) {
          ib += (c.b[db] == 1 ? 0 : i) * sb;
          sb *= c.b[db];
        }
      }
      BOOST_TEST(y[flat] == a[ia] - b[ib]);
    }
  }
}

BOOST_AUTO_TEST_CASE(binary_broadcast_matches_reference_f64) {
  check_broadcast_sub<double>();
}
BOOST_AUTO_TEST_CASE(binary_broadcast_matches_reference_f32) {
  check_broadcast_sub<float>();
}
BOOST_AUTO_TEST_CASE(binary_broadcast_two_threads) {
  const flowtape::test::ScopedThreads two(2);
  check_broadcast_sub<float>();
}

BOOST_AUTO_TEST_CASE(where_selects) {
  const std::vector<std::int64_t> s = {33};
  std::vector<float> c(33), a(33, 1.0f), b(33, -1.0f), y(33);
  for (int i = 0; i < 33; ++i) c[i] = static_cast<float>(i % 3 == 0);
  map_broadcast<float, 3>({c.data(), a.data(), b.data()}, {s.data(), s.data(), s.data()}, {1, 1, 1},
                          y.data(), s.data(), 1, fn::Where{});
  for (int i = 0; i < 33; ++i) BOOST_TEST(y[i] == (i % 3 == 0 ? 1.0f : -1.0f));
}

BOOST_AUTO_TEST_SUITE_END()
