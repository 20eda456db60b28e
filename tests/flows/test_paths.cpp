// SPDX-License-Identifier: MIT
// Paths: x_t and u_t agree (u_t = d x_t / dt at fixed x0, x1, z), and the Gaussian reading
// (sigma_t, sigma'_t / sigma_t, the score) is consistent with u_t as a function of x.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "flowtape/flows/path.hpp"
#include "support/gradcheck.hpp"

using namespace flowtape;
using namespace flowtape::flows;
using flowtape::test::rel_error;

namespace {
const Shape kShape{5, 3};

void check_path(const Path& path) {
  BOOST_TEST_CONTEXT("path " << path.name()) {
    Generator gen(7);
    const Tensor x0 = randn(kShape, gen, DType::f64), x1 = randn(kShape, gen, DType::f64);
    const Tensor z = randn(kShape, gen, DType::f64);
    const Tensor t = uniform(Shape{5, 1}, 0.05, 0.95, gen, DType::f64);
    const PathSample p = path.sample(x0, x1, t, z);
    // u_t against a central difference of x_t in t.
    const double h = 1e-6;
    const Tensor fd =
        (path.sample(x0, x1, t + h, z).xt - path.sample(x0, x1, t - h, z).xt) / (2 * h);
    BOOST_TEST(rel_error(p.ut.to_vector(), fd.to_vector()) < 1e-8);
    // sigma_rate against a difference of sigma.
    const Tensor fd_sigma =
        (path.sample(x0, x1, t + h, z).sigma - path.sample(x0, x1, t - h, z).sigma) / (2 * h);
    BOOST_TEST(rel_error((p.sigma_rate * p.sigma).to_vector(), fd_sigma.to_vector()) < 1e-8);
    // The score of N(mu_t, sigma_t^2 I) at x_t: -(x_t - mu_t) / sigma_t^2, with mu_t the
    // conditional mean (a x1 for s = 0, a x1 + b x0 for the independent interpolant).
    std::vector<double> a(5), b(5);
    for (int i = 0; i < 5; ++i) {
      const auto c = path.coefficients(t.at(i));
      a[i] = c.a;
      b[i] = c.b;
    }
    const Tensor ta = from_vector(a, Shape{5, 1}, DType::f64);
    const Tensor tb = from_vector(b, Shape{5, 1}, DType::f64);
    const Tensor mu = path.kind() == PathKind::independent ? ta * x1 + tb * x0 : ta * x1;
    BOOST_TEST(rel_error(p.score.to_vector(), (-(p.xt - mu) / square(p.sigma)).to_vector()) <
               1e-12);
    // For s = 0 the conditional velocity field is (sigma'/sigma)(x - mu) + a' x1: at x_t it
    // must equal u_t, which ties the divergence d sigma'/sigma to the target.
    if (path.kind() != PathKind::independent) {
      std::vector<double> da(5);
      for (int i = 0; i < 5; ++i) da[i] = path.coefficients(t.at(i)).da;
      const Tensor field =
          p.sigma_rate * (p.xt - mu) + from_vector(da, Shape{5, 1}, DType::f64) * x1;
      BOOST_TEST(rel_error(field.to_vector(), p.ut.to_vector()) < 1e-12);
    }
  }
}
}  // namespace

BOOST_AUTO_TEST_SUITE(paths)

BOOST_AUTO_TEST_CASE(every_path_is_consistent) {
  check_path(Path::rectified());
  check_path(Path::lipman(0.01));
  check_path(Path::independent(0.1));
  check_path(Path::vp_cosine());
}

BOOST_AUTO_TEST_CASE(rectified_endpoints_and_target) {
  Generator gen(1);
  const Tensor x0 = randn(kShape, gen, DType::f64), x1 = randn(kShape, gen, DType::f64);
  const Path path = Path::rectified();
  BOOST_TEST(rel_error(path.sample(x0, x1, zeros({5, 1}, DType::f64)).xt.to_vector(),
                       x0.to_vector()) < 1e-15);
  BOOST_TEST(rel_error(path.sample(x0, x1, ones({5}, DType::f64)).xt.to_vector(), x1.to_vector()) <
             1e-15);
  BOOST_TEST(rel_error(path.sample(x0, x1, full({5, 1}, 0.3, DType::f64)).ut.to_vector(),
                       (x1 - x0).to_vector()) < 1e-15);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
  const Tensor a = zeros({4, 2}), b = zeros({4, 3});
  BOOST_CHECK_EXCEPTION(Path::rectified().sample(a, b, zeros({4})), std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return std::string(e.what()).find("[4, 3]") != std::string::npos;
                        });
  BOOST_CHECK_THROW(Path::rectified().sample(a, a, zeros({3})), std::invalid_argument);
  BOOST_CHECK_THROW(Path::independent(0.1).sample(a, a, zeros({4})), std::invalid_argument);
  BOOST_CHECK_THROW(Path::independent(0.0), std::invalid_argument);
  BOOST_CHECK_THROW(Path::lipman(1.5), std::invalid_argument);
  BOOST_CHECK_THROW(Path::from_name("bogus"), std::invalid_argument);
  BOOST_TEST(Path::from_name("lipman", 0.1).sigma() == 0.1);
}

BOOST_AUTO_TEST_SUITE_END()
