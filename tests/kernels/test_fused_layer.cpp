// SPDX-License-Identifier: MIT
// The fused linear + SiLU layer's backward kernel against the two passes it replaces (silu's
// derivative as an elementwise map, then sum_axis over the rows), bit for bit: ragged widths,
// one row, one column (which sum_axis folds differently), shapes above the threading
// threshold, 1 and 2 threads, with and without the bias gradient. And SiLU's other fused
// passes (kernels/cpu/silu_fused.hpp) against the maps they replace.
#include <array>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "flowtape/kernels/cpu/elementwise.hpp"
#include "flowtape/kernels/cpu/fused_layer.hpp"
#include "flowtape/kernels/cpu/math.hpp"
#include "flowtape/kernels/cpu/reduce.hpp"
#include "flowtape/kernels/cpu/silu_fused.hpp"
#include "support/reference.hpp"
#include "support/threads.hpp"

using namespace flowtape::kernels::cpu;
using flowtape::test::random_vector;
using flowtape::test::ScopedThreads;

namespace {

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// The reference for a fused pass: one elementwise map, f over equal-length flat buffers,
// through the library's broadcasting map (the kernel the separate passes ran).
template <class F, class T, class... In>
std::vector<T> flat_map(const std::vector<T>& first, const In&... rest) {
  constexpr std::size_t N = 1 + sizeof...(In);
  std::int64_t n = static_cast<std::int64_t>(first.size());
  std::array<const std::int64_t*, N> shapes;
  std::array<int, N> ranks;
  shapes.fill(&n);
  ranks.fill(1);
  std::vector<T> out(first.size());
  map_broadcast<T, N>({first.data(), rest.data()...}, shapes, ranks, out.data(), &n, 1, F{});
  return out;
}

// Runs check(n) for the flat sizes the fused passes are tested at (empty, one, around a SIMD
// width, above the threading threshold), on 1 and 2 threads.
template <class Check>
void for_flat_sizes(Check check) {
  for (std::int64_t n : {0, 1, 7, 8, 9, 100, 70001})
    for (int threads : {1, 2}) {
      BOOST_TEST_CONTEXT("n " << n << ", threads " << threads) {
        ScopedThreads scoped(threads);
        check(n);
      }
    }
}

template <class T>
void check_against_two_passes() {
  const std::vector<std::pair<std::int64_t, std::int64_t>> shapes = {
      {1, 1},     {3, 5},      {7, 8},     {2, 17}, {17, 37},  {256, 64},
      {300, 256}, {1024, 100}, {4100, 20}, {37, 1}, {70000, 1}};
  for (const auto& [rows, cols] : shapes)
    for (int threads : {1, 2}) {
      BOOST_TEST_CONTEXT("rows " << rows << ", cols " << cols << ", threads " << threads) {
        ScopedThreads scoped(threads);
        const std::size_t n = static_cast<std::size_t>(rows * cols);
        const auto z = random_vector<T>(n, 3u, -6, 6);
        const auto g = random_vector<T>(n, 4u);
        std::vector<T> d(n);
        for (std::size_t i = 0; i < n; ++i) d[i] = T(1) + std::exp(-z[i]);

        // The two passes: silu_grad's map over the flat buffer, then the column sums.
        const auto dz_ref = flat_map<fn::SiluGradFromDenominator>(z, g, d);
        std::vector<T> db_ref(static_cast<std::size_t>(cols));
        sum_axis(dz_ref.data(), db_ref.data(), AxisView{1, rows, cols});

        std::vector<T> dz(n, T(-7)), db(static_cast<std::size_t>(cols), T(-7));
        silu_grad_and_column_sums(z.data(), g.data(), d.data(), dz.data(), db.data(), rows, cols);
        BOOST_TEST(same_bits(dz, dz_ref));
        BOOST_TEST(same_bits(db, db_ref));

        // Without the bias gradient only dz is written.
        std::vector<T> dz2(n, T(-7));
        silu_grad_and_column_sums(z.data(), g.data(), d.data(), dz2.data(),
                                  static_cast<T*>(nullptr), rows, cols);
        BOOST_TEST(same_bits(dz2, dz_ref));
      }
    }
}

// silu with its tangent, forward (silu, its denominator, silu'(x) dx) and backward (the VJP of
// the pair), against the separate maps the tape ran before: silu with its denominator, then
// silu_grad; and silu_grad's VJP, silu's VJP, then the sum of x's two cotangents.
template <class T>
void check_silu_with_tangent() {
  for_flat_sizes([](std::int64_t n) {
    const std::size_t size = static_cast<std::size_t>(n);
    const auto x = random_vector<T>(size, 8u, -6, 6);
    const auto dx = random_vector<T>(size, 9u), gy = random_vector<T>(size, 10u),
               gt = random_vector<T>(size, 11u);

    std::vector<T> y_ref(size), d_ref(size);
    map_unary2(x.data(), y_ref.data(), d_ref.data(), n, fn::SiluAndDenominator{});
    const auto t_ref = flat_map<fn::SiluGradFromDenominator>(x, dx, d_ref);
    std::vector<T> y(size, T(-7)), d(size, T(-7)), t(size, T(-7));
    silu_with_tangent(x.data(), dx.data(), y.data(), d.data(), t.data(), n);
    BOOST_TEST(same_bits(y, y_ref));
    BOOST_TEST(same_bits(d, d_ref));
    BOOST_TEST(same_bits(t, t_ref));

    const auto through_tangent =
        flat_map<fn::SiluGrad2FromDenominator>(x, flat_map<fn::Mul>(gt, dx), d);
    const auto gdx_ref = flat_map<fn::SiluGradFromDenominator>(x, gt, d);
    const auto through_value = flat_map<fn::SiluGradFromDenominator>(x, gy, d);
    const auto gx_ref = flat_map<fn::Add>(through_tangent, through_value);
    std::vector<T> gx(size, T(-7)), gdx(size, T(-7));
    silu_with_tangent_vjp(x.data(), d.data(), dx.data(), gy.data(), gt.data(), gx.data(),
                          gdx.data(), n);
    BOOST_TEST(same_bits(gx, gx_ref));
    BOOST_TEST(same_bits(gdx, gdx_ref));
  });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fused_layer)

BOOST_AUTO_TEST_CASE(silu_with_tangent_gives_the_bits_of_separate_maps_f32) {
  check_silu_with_tangent<float>();
}
BOOST_AUTO_TEST_CASE(silu_with_tangent_gives_the_bits_of_separate_maps_f64) {
  check_silu_with_tangent<double>();
}

BOOST_AUTO_TEST_CASE(silu_grad_and_column_sums_give_the_bits_of_two_passes_f32) {
  check_against_two_passes<float>();
}
BOOST_AUTO_TEST_CASE(silu_grad_and_column_sums_give_the_bits_of_two_passes_f64) {
  check_against_two_passes<double>();
}

BOOST_AUTO_TEST_SUITE_END()
