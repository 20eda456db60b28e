// SPDX-License-Identifier: MIT
// Couplings: the assignment solver against brute force, OT pairing lowers the transport cost,
// fixed pairs keep their pairing.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <numeric>

#include "flowtape/flows/coupling.hpp"
#include "support/gradcheck.hpp"

using namespace flowtape;
using namespace flowtape::flows;

BOOST_AUTO_TEST_SUITE(couplings)

BOOST_AUTO_TEST_CASE(assignment_is_optimal_against_brute_force) {
  Generator gen(8);
  for (std::int64_t n : {1, 2, 3, 5, 7}) {
    for (int trial = 0; trial < 5; ++trial) {
      std::vector<double> cost(static_cast<std::size_t>(n * n));
      for (auto& c : cost) c = std::floor(gen.uniform() * 20);  // ties on purpose
      const auto p = linear_assignment(cost, n);
      std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
      std::iota(perm.begin(), perm.end(), 0);
      std::vector<std::int64_t> sorted = p;
      std::sort(sorted.begin(), sorted.end());
      BOOST_TEST(sorted == perm);  // a permutation
      double best = 1e300;
      do {
        double s = 0;
        for (std::int64_t i = 0; i < n; ++i) s += cost[i * n + perm[i]];
        best = std::min(best, s);
      } while (std::next_permutation(perm.begin(), perm.end()));
      double got = 0;
      for (std::int64_t i = 0; i < n; ++i) got += cost[i * n + p[i]];
      BOOST_TEST(got == best);
    }
  }
  BOOST_CHECK_THROW(linear_assignment({1, 2, 3}, 2), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(minibatch_ot_lowers_the_cost_and_keeps_the_rows) {
  Generator gen(9);
  const Tensor x0 = randn({256, 2}, gen, DType::f64), x1 = randn({256, 2}, gen, DType::f64) + 3.0;
  const Pair ot = couple(CouplingKind::minibatch_ot, x0, x1);
  auto cost = [](const Tensor& a, const Tensor& b) { return sum(square(a - b)).item(); };
  BOOST_TEST(cost(ot.x0, ot.x1) < 0.9 * cost(x0, x1));
  // Same multiset of rows: sums of each coordinate and of squares agree.
  BOOST_TEST(sum(ot.x1).item() == sum(x1).item(), boost::test_tools::tolerance(1e-10));
  BOOST_TEST(sum(square(ot.x1)).item() == sum(square(x1)).item(),
             boost::test_tools::tolerance(1e-10));
  // 1-D: the OT pairing is monotone (sorted to sorted).
  const Tensor a = randn({50, 1}, gen, DType::f64), b = randn({50, 1}, gen, DType::f64);
  const Pair p = couple(CouplingKind::minibatch_ot, a, b);
  std::vector<std::pair<double, double>> pairs;
  for (int i = 0; i < 50; ++i) pairs.push_back({p.x0.at(i), p.x1.at(i)});
  std::sort(pairs.begin(), pairs.end());
  for (int i = 1; i < 50; ++i) BOOST_TEST(pairs[i].second >= pairs[i - 1].second);
  BOOST_TEST((coupling_from_name("ot") == CouplingKind::minibatch_ot));
  BOOST_CHECK_THROW(coupling_from_name("sinkhorn"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(fixed_pairs_keep_their_partners) {
  Generator gen(10);
  const Tensor x0 = randn({20, 2}, gen, DType::f64);
  const Tensor x1 = x0 * 2.0 + 1.0;
  const FixedPairs pairs(x0, x1);
  const Pair b = pairs.batch(64, gen);
  BOOST_TEST(flowtape::test::rel_error(b.x1.to_vector(), (b.x0 * 2.0 + 1.0).to_vector()) < 1e-15);
  BOOST_CHECK_THROW(FixedPairs(x0, zeros({3, 2}, DType::f64)), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
