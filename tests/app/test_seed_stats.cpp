// SPDX-License-Identifier: MIT
// The paper programs' statistics over seeds (app/seed_stats.hpp): the sample standard
// deviation (n - 1), differences paired seed by seed, and the "m +- s" cells of their tables.
#include <boost/test/unit_test.hpp>
#include <stdexcept>
#include <vector>

#include "app/seed_stats.hpp"

using namespace flowtape::app;

BOOST_AUTO_TEST_SUITE(seed_stats)

BOOST_AUTO_TEST_CASE(mean_and_sample_standard_deviation) {
  const MeanStd s = mean_std({1, 2, 3});
  BOOST_TEST(s.mean == 2.0);
  BOOST_TEST(s.std == 1.0);  // sqrt(2 / (3 - 1)); with n it would be 0.816
  BOOST_TEST(mean_std({5}).std == 0.0);
  BOOST_CHECK_THROW(mean_std({}), std::invalid_argument);
}

// Two runs that share most of their variation across seeds: the paired difference's std is
// that of the differences (0 here), far below either run's own.
BOOST_AUTO_TEST_CASE(paired_differences_remove_what_a_seed_shares) {
  const std::vector<double> control = {1.0, 4.0, 9.0}, method = {1.5, 4.5, 9.5};
  const MeanStd d = paired_difference(method, control);
  BOOST_TEST(d.mean == 0.5);
  BOOST_TEST(d.std == 0.0);
  BOOST_TEST(mean_std(method).std > 4.0);
  // The order is method minus control, seed by seed: a swap flips the sign.
  BOOST_TEST(paired_difference(control, method).mean == -0.5);
  const MeanStd mixed = paired_difference({3, 1}, {1, 2});  // differences 2 and -1
  BOOST_TEST(mixed.mean == 0.5);
  BOOST_TEST(mixed.std == 2.1213203435596424, boost::test_tools::tolerance(1e-15));
  BOOST_CHECK_THROW(paired_difference({1, 2}, {1}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(cells_keep_the_sign_of_the_mean_only) {
  BOOST_TEST(format_mean_std("%.4f", {0.12345, 0.01}) == "0.1235 +- 0.0100");
  BOOST_TEST(format_mean_std("%+.4f", {-0.5, 0.25}) == "-0.5000 +- 0.2500");
  BOOST_TEST(format_mean_std("%+.4f", {0.5, 0.25}) == "+0.5000 +- 0.2500");
}

BOOST_AUTO_TEST_SUITE_END()
