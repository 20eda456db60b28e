// SPDX-License-Identifier: MIT
// Data-movement kernels against index arithmetic.
#include <boost/test/unit_test.hpp>
#include <numeric>
#include <vector>

#include "flowtape/kernels/cpu/layout.hpp"

using namespace flowtape::kernels::cpu;

BOOST_AUTO_TEST_SUITE(layout)

BOOST_AUTO_TEST_CASE(permute_3d) {
  const std::vector<std::int64_t> shape = {2, 7, 33}, perm = {2, 0, 1};
  std::vector<double> x(2 * 7 * 33), y(x.size());
  std::iota(x.begin(), x.end(), 0.0);
  permute(x.data(), y.data(), sizeof(double), shape, perm);
  // y has shape [33, 2, 7]; y[k][i][j] = x[i][j][k].
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 7; ++j)
      for (int k = 0; k < 33; ++k) BOOST_TEST(y[(k * 2 + i) * 7 + j] == x[(i * 7 + j) * 33 + k]);
}

BOOST_AUTO_TEST_CASE(slice_pad_roundtrip) {
  std::vector<float> x(3 * 7 * 5);
  std::iota(x.begin(), x.end(), 0.0f);
  std::vector<float> s(3 * 4 * 5), p(x.size());
  slice_axis(x.data(), s.data(), sizeof(float), 3, 7, 5, 2, 4);
  for (int o = 0; o < 3; ++o)
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < 5; ++j) BOOST_TEST(s[(o * 4 + k) * 5 + j] == x[(o * 7 + k + 2) * 5 + j]);
  pad_axis(s.data(), p.data(), sizeof(float), 3, 7, 5, 2, 4);
  for (int o = 0; o < 3; ++o)
    for (int k = 0; k < 7; ++k)
      for (int j = 0; j < 5; ++j) {
        const float expect = (k >= 2 && k < 6) ? x[(o * 7 + k) * 5 + j] : 0.0f;
        BOOST_TEST(p[(o * 7 + k) * 5 + j] == expect);
      }
}

BOOST_AUTO_TEST_CASE(concat_middle_axis) {
  std::vector<double> a(2 * 1 * 3, 1.0), b(2 * 4 * 3, 2.0), y(2 * 5 * 3);
  const void* parts[] = {a.data(), b.data()};
  const std::int64_t lens[] = {1, 4};
  concat_axis(parts, lens, y.data(), sizeof(double), 2, 3);
  for (int o = 0; o < 2; ++o)
    for (int k = 0; k < 5; ++k)
      for (int j = 0; j < 3; ++j) BOOST_TEST(y[(o * 5 + k) * 3 + j] == (k == 0 ? 1.0 : 2.0));
}

BOOST_AUTO_TEST_SUITE_END()
