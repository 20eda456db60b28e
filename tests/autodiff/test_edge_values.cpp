// SPDX-License-Identifier: MIT
// Edge values that follow IEEE 754 and PyTorch: x^p at zero and x^0 (with the derivative that
// follows from them), relu of a NaN, exp up to its overflow point and into the subnormals, and
// log of subnormal inputs. Each checked in f32 and f64.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "flowtape/autodiff/autodiff.hpp"

using namespace flowtape;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor values(std::vector<double> v, DType dtype) {
  return from_vector(std::span<const double>(v), Shape{static_cast<std::int64_t>(v.size())}, dtype);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(edge_values)

BOOST_AUTO_TEST_CASE(pow_follows_ieee_at_zero) {
  for (DType dtype : {DType::f32, DType::f64}) {
    BOOST_TEST_CONTEXT(dtype_name(dtype)) {
      const Tensor zeros2 = values({0.0, -0.0}, dtype);
      auto r = pow(zeros2, -1.0).to_vector();
      BOOST_TEST(r[0] == kInf);
      BOOST_TEST(r[1] == -kInf);  // an odd integer keeps the zero's sign
      r = pow(zeros2, -0.5).to_vector();
      BOOST_TEST((r[0] == kInf && r[1] == kInf));
      r = pow(zeros2, -2.0).to_vector();
      BOOST_TEST((r[0] == kInf && r[1] == kInf));
      r = pow(zeros2, 0.5).to_vector();
      BOOST_TEST((r[0] == 0.0 && r[1] == 0.0));
      // x^0 = 1 for every x, zero and NaN included.
      r = pow(values({0.0, -3.0, NAN, kInf}, dtype), 0.0).to_vector();
      for (double v : r) BOOST_TEST(v == 1.0);
      // Away from zero nothing changes.
      r = pow(values({4.0, -2.0}, dtype), -1.0).to_vector();
      BOOST_TEST(r[0] == 0.25);
      BOOST_TEST(r[1] == -0.5);
      // d/dx x^0.5 = 0.5 x^-0.5: inf at 0, as in PyTorch.
      const Tensor g =
          grad([](const Tensor& x) { return sum(pow(x, 0.5)); }, values({0.0, 4.0}, dtype));
      BOOST_TEST(g.at(0) == kInf);
      BOOST_TEST(g.at(1) == 0.25);
    }
  }
}

// An f32 tensor is raised to the exponent rounded to f32, and differentiated with that one:
// 1 + 1e-9 is 1 in f32, so x^(1 + 1e-9) is x, with derivative 1 (x^(1e-9) would be NaN at -2).
BOOST_AUTO_TEST_CASE(pow_differentiates_the_exponent_it_computes) {
  const Tensor x = values({-2.0, 0.0, 3.0}, DType::f32);
  const Tensor g = grad([](const Tensor& v) { return sum(pow(v, 1.0 + 1e-9)); }, x);
  BOOST_TEST(g.to_vector() == (std::vector<double>{1, 1, 1}), boost::test_tools::per_element());
  // 1.1 is not 1.1f: the value and the derivative both use 1.1f.
  const Tensor y = values({2.0}, DType::f32);
  const double p = static_cast<double>(1.1f);
  BOOST_TEST(pow(y, 1.1).at(0) == static_cast<double>(std::pow(2.0f, 1.1f)));
  const Tensor gy = grad([](const Tensor& v) { return sum(pow(v, 1.1)); }, y);
  BOOST_TEST(gy.at(0) == static_cast<double>(static_cast<float>(p) * std::pow(2.0f, 1.1f - 1.0f)),
             boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(relu_keeps_nan) {
  for (DType dtype : {DType::f32, DType::f64}) {
    BOOST_TEST_CONTEXT(dtype_name(dtype)) {
      const auto r = relu(values({NAN, -1.0, 2.0, -0.0, -kInf, kInf}, dtype)).to_vector();
      BOOST_TEST(std::isnan(r[0]));
      BOOST_TEST(r[1] == 0.0);
      BOOST_TEST(r[2] == 2.0);
      BOOST_TEST((r[3] == 0.0 && !std::signbit(r[3])));
      BOOST_TEST(r[4] == 0.0);
      BOOST_TEST(r[5] == kInf);
    }
  }
}

// sign keeps a NaN (NumPy's rule), so abs' derivative at a NaN is NaN, not a silent 0; the
// vector lanes and the scalar tail agree (19 values cross both).
BOOST_AUTO_TEST_CASE(sign_and_abs_keep_nan) {
  for (DType dtype : {DType::f32, DType::f64}) {
    BOOST_TEST_CONTEXT(dtype_name(dtype)) {
      std::vector<double> v;
      for (int i = 0; i < 19; ++i) v.push_back(i % 3 == 0 ? NAN : (i % 3 == 1 ? -2.0 : 0.0));
      const auto s = sign(values(v, dtype)).to_vector();
      for (std::size_t i = 0; i < v.size(); ++i) {
        const bool expected = std::isnan(v[i]) ? std::isnan(s[i]) : s[i] == (v[i] < 0 ? -1.0 : 0.0);
        BOOST_TEST(expected, "at " << i << ": sign(" << v[i] << ") = " << s[i]);
      }
      const Tensor x = values({NAN, -3.0}, dtype);
      const auto g = grad([](const std::vector<Tensor>& p) { return sum(abs(p[0])); }, {x})[0];
      BOOST_TEST(std::isnan(g.to_vector()[0]));
      BOOST_TEST(g.to_vector()[1] == -1.0);
    }
  }
}

// exp reaches IEEE's overflow point (ln of the largest finite number) and rounds gradually
// into the subnormals; log reads subnormal inputs right. Against std::exp / std::log: within
// 4 ulp where the result is normal, within 2 of the smallest subnormal steps where it is not.
BOOST_AUTO_TEST_CASE(exp_and_log_cover_the_whole_range) {
  auto check = [](DType dtype, const std::vector<double>& xs, bool is_exp) {
    const bool f64 = dtype == DType::f64;
    const Tensor in = values(xs, dtype);
    const auto got = (is_exp ? exp(in) : log(in)).to_vector();
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double want = f64 ? (is_exp ? std::exp(xs[i]) : std::log(xs[i]))
                              : double(is_exp ? std::exp(float(xs[i])) : std::log(float(xs[i])));
      const double eps = f64 ? 0x1p-52 : 0x1p-23;
      const double tiny = f64 ? 0x1p-1074 : 0x1p-149, normal = f64 ? 0x1p-1022 : 0x1p-126;
      const double tol = std::abs(want) < normal ? 2 * tiny : 4 * eps * std::abs(want);
      BOOST_TEST_CONTEXT((is_exp ? "exp(" : "log(") << xs[i] << ") " << dtype_name(dtype)) {
        if (std::isinf(want))
          BOOST_TEST(got[i] == want);
        else
          BOOST_TEST(std::abs(got[i] - want) <= tol);
      }
    }
  };
  check(DType::f64,
        {709.0, 709.44, 709.5, 709.78, 709.79, 800.0, -708.0, -708.4, -709.0, -720.0, -745.0,
         -745.2, -800.0, 0.0, 1.0},
        true);
  check(DType::f32, {88.0, 88.38, 88.5, 88.72, 88.73, -87.0, -87.4, -88.0, -100.0, -103.9, -104.0},
        true);
  check(DType::f64, {0x1p-1022, 2.2e-308, 1e-310, 0x1p-1074, 1e-300, 1.0}, false);
  check(DType::f32, {0x1p-126, 1e-39, 0x1p-149, 1e-30}, false);
  // Overflow where IEEE says: e^709.78 is finite, e^709.79 is not.
  BOOST_TEST(std::isfinite(exp(values({709.78}, DType::f64)).item()));
  BOOST_TEST(std::isinf(exp(values({709.79}, DType::f64)).item()));
  BOOST_TEST(exp(values({-INFINITY}, DType::f64)).item() == 0.0);
  BOOST_TEST(std::isnan(exp(values({NAN}, DType::f64)).item()));
  BOOST_TEST(log(values({0.0}, DType::f64)).item() == -kInf);
}

// One rule for empty axes: the identity where the reduction has one, an error where not.
BOOST_AUTO_TEST_CASE(reductions_over_an_empty_axis) {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor x = zeros({3, 0}, dtype);
    BOOST_TEST(sum(x, 1).to_vector() == std::vector<double>(3, 0.0),
               boost::test_tools::per_element());
    BOOST_TEST(sum(x).item() == 0.0);
    for (double v : logsumexp(x, 1).to_vector()) BOOST_TEST(v == -kInf);
    BOOST_TEST(softmax(x, 1).numel() == 0);
    BOOST_CHECK_THROW(mean(x, 1), std::invalid_argument);
    BOOST_CHECK_THROW(mean(x), std::invalid_argument);
    BOOST_CHECK_EXCEPTION(max(x, 1), std::invalid_argument, [](const std::invalid_argument& e) {
      return std::string(e.what()).find("max: axis 1 of") == 0;
    });
    // A non-empty axis of a tensor with an empty other axis is fine: the result is empty.
    BOOST_TEST(max(x, 0).numel() == 0);
  }
}

BOOST_AUTO_TEST_SUITE_END()
