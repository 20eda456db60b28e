// SPDX-License-Identifier: MIT
// Datasets (determinism, geometry, exact densities) and metrics (their defining properties).
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "flowtape/flows/datasets.hpp"
#include "flowtape/flows/metrics.hpp"
#include "support/gradcheck.hpp"

using namespace flowtape;
using namespace flowtape::flows;

BOOST_AUTO_TEST_SUITE(datasets)

BOOST_AUTO_TEST_CASE(every_dataset_is_seeded_and_shaped) {
  for (const std::string& name : dataset_names()) {
    BOOST_TEST_CONTEXT("dataset " << name) {
      const auto ds = make_dataset(name);
      Generator a(5), b(5);
      const Tensor x = ds->sample(33, a), y = ds->sample(33, b, DType::f64);
      BOOST_TEST(x.shape() == (Shape{33, ds->dim()}));
      BOOST_TEST(flowtape::test::rel_error(x.to_vector(), y.to_vector()) < 1e-6);
      for (double v : y.to_vector()) BOOST_TEST(std::isfinite(v));
      if (ds->has_log_density()) {
        for (double v : ds->log_density(y).to_vector()) BOOST_TEST(std::isfinite(v));
      } else {
        BOOST_CHECK_THROW(ds->log_density(y), std::logic_error);
      }
    }
  }
  BOOST_CHECK_EXCEPTION(make_dataset("mnist"), std::invalid_argument, [](const auto& e) {
    return std::string(e.what()).find("checkerboard") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(checkerboard_density_integrates_to_one) {
  // Uniform points on the bounding box [-2/0.45, 2/0.45]^2: the mean of p(x) times the box
  // area is the probability mass, 1.
  Generator gen(3);
  const double half = 2 / 0.45;
  const Tensor u = uniform({200000, 2}, -half, half, gen, DType::f64);
  double mass = 0;
  for (double lp : Checkerboard().log_density(u).to_vector()) mass += std::exp(lp);
  mass *= (2 * half) * (2 * half) / 200000;
  BOOST_TEST(mass == 1.0, boost::test_tools::tolerance(0.01));
  BOOST_TEST(
      -Checkerboard().log_density(Checkerboard().sample(10, gen, DType::f64)).at(0) == 3.676457,
      boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(mixture_and_gaussian_densities) {
  // The 1-D mixture's density integrates to 1 (trapezoid on a fine grid).
  const Tensor grid = reshape(arange(-8.0, 8.0, 0.001, DType::f64), {-1, 1});
  double mass = 0;
  for (double lp : Mixture1D().log_density(grid).to_vector()) mass += std::exp(lp) * 0.001;
  BOOST_TEST(mass == 1.0, boost::test_tools::tolerance(1e-6));
  // N(m, S) in 2-D: sample moments and the density formula.
  const Gaussian g({1.0, -2.0}, {2.0, 0.6, 0.6, 0.5});
  Generator gen(4);
  const Tensor x = g.sample(100000, gen, DType::f64);
  const Tensor m = mean(x, 0);
  BOOST_TEST(m.at(0) == 1.0, boost::test_tools::tolerance(0.02));
  BOOST_TEST(std::abs(m.at(1) + 2.0) < 0.01);
  const Tensor c = x - m;
  BOOST_TEST(mean(slice(c, 1, 0, 1) * slice(c, 1, 1, 2)).item() == 0.6,
             boost::test_tools::tolerance(0.03));
  const double det = 2.0 * 0.5 - 0.36;
  const Tensor p = from_vector(std::vector<double>{0.0, 0.0}, Shape{1, 2}, DType::f64);
  // (x - m)^T S^-1 (x - m) with x - m = (-1, 2), S^-1 = [[0.5, -0.6], [-0.6, 2]] / det
  const double quad = (0.5 * 1.0 + 2 * (-0.6) * (-1.0) * 2.0 + 2.0 * 4.0) / det;
  BOOST_TEST(g.log_density(p).item() == -0.5 * (quad + std::log(det) + 2 * std::log(2 * M_PI)),
             boost::test_tools::tolerance(1e-12));
  BOOST_CHECK_THROW(Gaussian({0.0, 0.0}, {1.0, 2.0, 2.0, 1.0}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(rings_fall_in_their_lobes_with_their_weights) {
  const Rings rings;
  Generator gen(6);
  const Tensor x = rings.sample(60000, gen, DType::f64);
  std::vector<double> count(6, 0.0);
  const std::vector<double> v = x.to_vector();
  for (std::int64_t i = 0; i < 60000; ++i) {
    const int k = rings.lobe_of_angle(std::atan2(v[2 * i + 1], v[2 * i]));
    BOOST_TEST_REQUIRE(k >= 0);
    count[k] += 1.0 / 60000;
  }
  const double total = 5.3;
  for (int k = 0; k < 6; ++k) {
    BOOST_TEST(count[k] == rings.config().weights[k] / total, boost::test_tools::tolerance(0.05));
  }
  BOOST_TEST(rings.lobe_of_angle(M_PI / 6) == -1);  // the middle of the first gap
  BOOST_CHECK_THROW(Rings(RingsConfig{3, 0.5, 1.0, 0.1, {1, 1}}), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(distances_separate_distributions) {
  Generator gen(12);
  const Tensor a = randn({400, 2}, gen, DType::f64), b = randn({400, 2}, gen, DType::f64);
  const Tensor shifted = b + 1.5;
  BOOST_TEST(mmd_rbf(a, b) < 0.02);
  BOOST_TEST(mmd_rbf(a, shifted) > 0.2);
  BOOST_TEST(mmd_rbf(a, a) < 1e-12);
  BOOST_TEST(energy_distance(a, a) < 1e-12);
  BOOST_TEST(energy_distance(a, shifted) > 10 * energy_distance(a, b));
  // SW2 between N(0, I) and N(c, I) in 2-D: sqrt(E_theta (c.theta)^2) = |c| / sqrt(2).
  const Tensor big_a = randn({20000, 2}, gen, DType::f64),
               big_b = randn({20000, 2}, gen, DType::f64);
  const double sw = sliced_wasserstein(big_a, big_b + 1.5, 200, gen);
  BOOST_TEST(sw == 1.5 * std::sqrt(2.0) / std::sqrt(2.0), boost::test_tools::tolerance(0.05));
  BOOST_CHECK_THROW(sliced_wasserstein(a, randn({10, 2}, gen), 5, gen), std::invalid_argument);
  BOOST_CHECK_THROW(mmd_rbf(a, randn({10, 3}, gen)), std::invalid_argument);
}

// Values by hand, which pin each estimator (the V-statistics, self-pairs included) and its
// constants: a = {0, 1} and b = {2} on a line.
BOOST_AUTO_TEST_CASE(distances_match_hand_values) {
  const Tensor a = from_vector(std::vector<double>{0, 1}, Shape{2, 1}, DType::f64),
               b = from_vector(std::vector<double>{2}, Shape{1, 1}, DType::f64);
  // 2 E|a - b| - E|a - a'| - E|b - b'| = 2 (2 + 1) / 2 - (0 + 1 + 1 + 0) / 4 - 0.
  BOOST_TEST(energy_distance(a, b) == 2.5, boost::test_tools::tolerance(1e-15));
  // Two point masses at distance 3: 2 * 3.
  const Tensor p = from_vector(std::vector<double>{0, 0, 0}, Shape{3, 1}, DType::f64),
               q = from_vector(std::vector<double>{3, 3}, Shape{2, 1}, DType::f64);
  BOOST_TEST(energy_distance(p, q) == 6.0, boost::test_tools::tolerance(1e-15));
  // Squared MMD with k(d) = exp(-d^2 / (2 h^2)), h = 1:
  // E k(a, a') + E k(b, b') - 2 E k(a, b) = (2 + 2 e^-1/2) / 4 + 1 - (e^-2 + e^-1/2).
  const double want = (2 + 2 * std::exp(-0.5)) / 4 + 1 - (std::exp(-2.0) + std::exp(-0.5));
  BOOST_TEST(mmd_rbf(a, b, {1.0}) == want, boost::test_tools::tolerance(1e-14));
  // The default bandwidths: the median of the a-b distances (here the upper of 1 and 2), and
  // half and twice it, summed.
  BOOST_TEST(mmd_rbf(a, b) == mmd_rbf(a, b, {1.0, 2.0, 4.0}));
}

BOOST_AUTO_TEST_CASE(ring_metrics_of_data_and_of_gap_points) {
  const Rings rings;
  Generator gen(13);
  const Tensor data = rings.sample(20000, gen, DType::f64),
               again = rings.sample(20000, gen, DType::f64);
  const RingMetrics same = ring_metrics(rings, again, data);
  BOOST_TEST(same.gap_violation_rate == 0.0);
  BOOST_TEST(same.angular_spread_error < 0.01);
  BOOST_TEST(same.mode_concentration < 0.02);
  BOOST_TEST(same.variance_error < 0.03);
  BOOST_TEST(std::abs(same.spread_ratio - 1) < 0.02);
  BOOST_TEST(std::abs(same.minority_share - 1) < 0.05);
  BOOST_TEST(std::abs(same.radius_bias) < 0.002);
  // The signed measures say which way: angles squeezed to half their offset from each lobe's
  // centre halve the spread; points at 0.9 the radius fall inside; dropping the minority lobe
  // (the sixth, weight 0.3) empties its share.
  const std::vector<double> d = data.to_vector();
  std::vector<double> squeezed, inside, no_minority;
  for (std::size_t i = 0; i < d.size(); i += 2) {
    const double angle = std::atan2(d[i + 1], d[i]), r = std::hypot(d[i], d[i + 1]);
    const int k = rings.nearest_lobe(angle);
    const double a =
        rings.lobe_centre(k) + 0.5 * std::remainder(angle - rings.lobe_centre(k), 2 * M_PI);
    squeezed.insert(squeezed.end(), {r * std::cos(a), r * std::sin(a)});
    inside.insert(inside.end(), {0.9 * d[i], 0.9 * d[i + 1]});
    if (k != 5) no_minority.insert(no_minority.end(), {d[i], d[i + 1]});
  }
  const auto as_points = [](const std::vector<double>& v) {
    return from_vector(v, Shape{static_cast<std::int64_t>(v.size() / 2), 2}, DType::f64);
  };
  BOOST_TEST(std::abs(ring_metrics(rings, as_points(squeezed), data).spread_ratio - 0.5) < 0.01);
  BOOST_TEST(std::abs(ring_metrics(rings, as_points(inside), data).radius_bias + 0.1) < 0.002);
  // The same points at 0.9 the radius: tr Cov is 0.81 times the data's.
  BOOST_TEST(ring_metrics(rings, as_points(inside), data).variance_error == 0.19,
             boost::test_tools::tolerance(1e-9));
  const RingMetrics dropped = ring_metrics(rings, as_points(no_minority), data);
  BOOST_TEST(dropped.minority_share == 0.0);
  // The lost lobe counts as a ratio of 0 among the six (it was skipped, and the mean read 1).
  BOOST_TEST(std::abs(dropped.spread_ratio - 5.0 / 6.0) < 0.01);
  // Total variation: half the sum of |share - weight|; the minority's weight moves to the
  // others in proportion, so the distance is that weight (to the sampling noise of 20000).
  const auto& w = rings.config().weights;
  double total = 0;
  for (double x : w) total += x;
  BOOST_TEST(std::abs(dropped.mode_concentration - w[5] / total) < 0.006);
  // Points in the middle of the gaps: every one violates, and lobes are mis-occupied.
  std::vector<double> gap;
  for (int i = 0; i < 600; ++i) {
    const double angle = M_PI / 6 + (i % 6) * M_PI / 3;
    gap.push_back(4.0 * std::cos(angle));
    gap.push_back(4.0 * std::sin(angle));
  }
  const RingMetrics bad = ring_metrics(rings, from_vector(gap, Shape{600, 2}, DType::f64), data);
  BOOST_TEST(bad.gap_violation_rate == 1.0);
  BOOST_TEST(bad.angular_spread_error > 0.1);
  // A non-finite generated point lies in no lobe (its angle indexed out of bounds before); data
  // with no variance is refused, not divided by.
  std::vector<double> with_nan(gap.begin(), gap.begin() + 20);
  with_nan[0] = std::nan("");
  const RingMetrics m = ring_metrics(rings, from_vector(with_nan, Shape{10, 2}, DType::f64), data);
  BOOST_TEST(m.gap_violation_rate == 1.0);
  BOOST_CHECK_THROW(rings.nearest_lobe(std::nan("")), std::invalid_argument);
  BOOST_CHECK_THROW(ring_metrics(rings, data, slice(data, 0, 0, 1)), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(dataset_parameters_are_checked) {
  BOOST_CHECK_THROW(EightGaussians(2.0, 0.0), std::invalid_argument);
  BOOST_CHECK_THROW(EightGaussians(std::nan(""), 0.1), std::invalid_argument);
  BOOST_CHECK_THROW(Moons(-0.1), std::invalid_argument);
  BOOST_CHECK_THROW(Spirals{INFINITY}, std::invalid_argument);
  BOOST_CHECK_NO_THROW(Moons{0.0});
}

BOOST_AUTO_TEST_CASE(pairing_reproduction) {
  Generator gen(14);
  const Tensor targets = randn({50, 3}, gen, DType::f64);
  BOOST_TEST(pairing_reproduction_rate(targets + 0.01, targets) == 1.0);
  const Tensor rolled = concat({slice(targets, 0, 1, 50), slice(targets, 0, 0, 1)}, 0);
  BOOST_TEST(pairing_reproduction_rate(rolled, targets) == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
