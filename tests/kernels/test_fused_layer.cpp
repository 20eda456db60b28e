// The fused linear + SiLU layer's backward kernel against the two passes it replaces (silu's
// derivative as an elementwise map, then sum_axis over the rows), bit for bit: ragged widths,
// one row, one column (which sum_axis folds differently), shapes above the threading
// threshold, 1 and 2 threads, with and without the bias gradient.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/fused_layer.hpp"
#include "kernels/cpu/math.hpp"
#include "kernels/cpu/reduce.hpp"
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
        std::vector<T> dz_ref(n), db_ref(static_cast<std::size_t>(cols));
        const std::int64_t flat = rows * cols;
        map_broadcast<T, 3>({z.data(), g.data(), d.data()}, {&flat, &flat, &flat}, {1, 1, 1},
                            dz_ref.data(), &flat, 1, fn::SiluGradFromDenominator{});
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

}  // namespace

BOOST_AUTO_TEST_SUITE(fused_layer)

BOOST_AUTO_TEST_CASE(silu_grad_and_column_sums_give_the_bits_of_two_passes_f32) {
  check_against_two_passes<float>();
}
BOOST_AUTO_TEST_CASE(silu_grad_and_column_sums_give_the_bits_of_two_passes_f64) {
  check_against_two_passes<double>();
}

BOOST_AUTO_TEST_SUITE_END()
