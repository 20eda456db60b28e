// SPDX-License-Identifier: MIT
// Losses: the entropic aggregation against closed forms (docs/objectives.md), its lambda -> 0
// limit, overflow safety and gradient weights; the FDM residual against hand-computed values, the
// Hutchinson estimator's unbiasedness, and FDM gradients against finite differences.
#include <boost/test/unit_test.hpp>
#include <climits>
#include <cmath>

#include "flowtape/flows/losses.hpp"
#include "support/gradcheck.hpp"

using namespace flowtape;
using namespace flowtape::flows;
using flowtape::test::rel_error;

namespace {
Tensor vec(std::vector<double> v, DType dt = DType::f64) {
  const auto n = static_cast<std::int64_t>(v.size());
  return from_vector(v, Shape{n}, dt);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(entropic)

BOOST_AUTO_TEST_CASE(matches_the_closed_form_and_its_softmax_gradient) {
  const Tensor l = vec({0.5, 1.0, 4.0});
  BOOST_TEST(entropic_loss(l, 0.3).item() == 2.215717, boost::test_tools::tolerance(1e-6));
  const Tensor g = grad([](const Tensor& x) { return entropic_loss(x, 0.3); }, l);
  const std::vector<double> expect = {0.199224, 0.231465, 0.569312};
  for (int i = 0; i < 3; ++i) BOOST_TEST(std::abs(g.at(i) - expect[i]) < 1e-6);
  // Negative lambda (risk-seeking) is the same formula.
  const double neg = std::log((std::exp(-0.15) + std::exp(-0.3) + std::exp(-1.2)) / 3) / -0.3;
  BOOST_TEST(entropic_loss(l, -0.3).item() == neg, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(is_the_mean_at_zero_and_continuous_near_it) {
  const Tensor l = vec({0.2, 1.7, 3.1, 0.9, 2.4});
  const double m = 1.66,
               var = (0.2 * 0.2 + 1.7 * 1.7 + 3.1 * 3.1 + 0.9 * 0.9 + 2.4 * 2.4) / 5 - m * m;
  BOOST_TEST(entropic_loss(l, 0.0).item() == m, boost::test_tools::tolerance(1e-15));
  for (double lambda : {1e-14, 1e-10, 1e-6, -1e-6, 1e-3}) {
    // Second-order cumulant expansion: mean + lambda var / 2 + O(lambda^2).
    const double expect = m + lambda * var / 2;
    BOOST_TEST_CONTEXT("lambda " << lambda) {
      BOOST_TEST(std::abs(entropic_loss(l, lambda).item() - expect) <
                 1e-14 + 2 * lambda * lambda * 10);
    }
  }
  // f32 keeps the limit too (no 1/lambda amplification of rounding).
  BOOST_TEST(std::abs(entropic_loss(to_dtype(l, DType::f32), 1e-9).item() - m) < 1e-6);
  // The two evaluation forms meet where the lambda spread crosses 1 (here spread = 2.9 lambda).
  const double at = 1.0 / 2.9;
  BOOST_TEST(std::abs(entropic_loss(l, at * (1 - 1e-12)).item() -
                      entropic_loss(l, at * (1 + 1e-12)).item()) < 1e-10);
}

// Tilting within groups: one group of every row is the batch tilt, no tilted row is the mean,
// and two groups are each tilted on their own, weighted by their share; the gradient is the
// softmax within each group times the group's share.
// Group ids are labels, not a count: a large id costs no loop over all smaller ones, and the
// largest int does not overflow. Non-finite times are refused by the binning.
BOOST_AUTO_TEST_CASE(grouped_tilt_takes_any_group_ids) {
  const Tensor l = vec({0.5, 1.0, 4.0});
  const double lambda = 0.4;
  const double small = grouped_entropic_loss(l, {0, 1, 0}, lambda).item();
  BOOST_TEST(grouped_entropic_loss(l, {0, 1000000000, 0}, lambda).item() == small);
  BOOST_TEST(grouped_entropic_loss(l, {0, INT_MAX, 0}, lambda).item() == small);
  BOOST_CHECK_THROW(time_bin_groups(vec({0.5, std::nan("")}), 4), std::invalid_argument);
  BOOST_TEST(time_bin_groups(vec({-1e300, 0.5, 1e300}), 4) == (std::vector<int>{0, 2, 3}));
}

BOOST_AUTO_TEST_CASE(grouped_tilt_matches_its_closed_form) {
  const Tensor l = vec({0.5, 1.0, 4.0, 2.0, 0.1});
  const double lambda = 0.4;
  BOOST_TEST(
      grouped_entropic_loss(l, {0, 0, 0, 0, 0}, lambda).item() == entropic_loss(l, lambda).item(),
      boost::test_tools::tolerance(1e-14));
  BOOST_TEST(grouped_entropic_loss(l, {-1, -1, -1, -1, -1}, lambda).item() == 7.6 / 5,
             boost::test_tools::tolerance(1e-14));
  const std::vector<int> groups = {0, 1, 0, -1, 1};
  const auto lme = [&](std::vector<double> v) {
    double s = 0;
    for (double x : v) s += std::exp(lambda * x);
    return std::log(s / static_cast<double>(v.size())) / lambda;
  };
  const double expect = 0.4 * lme({0.5, 4.0}) + 0.4 * lme({1.0, 0.1}) + 0.2 * 2.0;
  BOOST_TEST(grouped_entropic_loss(l, groups, lambda).item() == expect,
             boost::test_tools::tolerance(1e-12));
  const Tensor g =
      grad([&](const Tensor& x) { return grouped_entropic_loss(x, groups, lambda); }, l);
  const double w0 = std::exp(lambda * 0.5) / (std::exp(lambda * 0.5) + std::exp(lambda * 4.0));
  const double w1 = std::exp(lambda * 1.0) / (std::exp(lambda * 1.0) + std::exp(lambda * 0.1));
  const std::vector<double> want = {0.4 * w0, 0.4 * w1, 0.4 * (1 - w0), 0.2, 0.4 * (1 - w1)};
  for (int i = 0; i < 5; ++i) BOOST_TEST(std::abs(g.at(i) - want[i]) < 1e-12, "row " << i);
  // The groups of the variants.
  const Tensor t = vec({0.0, 0.124, 0.125, 0.99, 1.0});
  BOOST_TEST((time_bin_groups(t, 8) == std::vector<int>{0, 0, 1, 7, 7}));
  BOOST_TEST((late_groups(t, 0.8) == std::vector<int>{-1, -1, -1, 0, 0}));
  BOOST_CHECK_THROW(grouped_entropic_loss(l, {0, 0}, lambda), std::invalid_argument);
  BOOST_CHECK_THROW(grouped_entropic_loss(l, {0, 0, -2, 0, 0}, lambda), std::invalid_argument);
}

// The per-point tilt on one row and two references, by hand (d = 1): x1 in {0, 2}, t = 0.5,
// x_t = 0.6, v = 0.3; posterior logits -(x_t - t x1)^2 / (2 (1 - t)^2) = -0.72, -0.32;
// U = (x1 - x_t) / (1 - t) = -1.2, 2.8; residuals l = 2.25, 6.25.
BOOST_AUTO_TEST_CASE(per_point_tilt_matches_its_closed_form) {
  const Tensor v = full({1, 1}, 0.3, DType::f64), xt = full({1, 1}, 0.6, DType::f64);
  const Tensor t = full({1, 1}, 0.5, DType::f64);
  const Tensor ref = from_vector(std::vector<double>{0, 2}, Shape{2, 1}, DType::f64);
  const double pa = 1 / (1 + std::exp(0.4)), pb = 1 - pa;
  for (double lambda : {0.3, -0.2, 2.0}) {
    const double want =
        std::log(pa * std::exp(lambda * 2.25) + pb * std::exp(lambda * 6.25)) / lambda;
    BOOST_TEST(per_point_entropic_loss(v, xt, t, ref, lambda).item() == want,
               boost::test_tools::tolerance(1e-13));
  }
  BOOST_TEST(per_point_entropic_loss(v, xt, t, ref, 0.0).item() == pa * 2.25 + pb * 6.25,
             boost::test_tools::tolerance(1e-14));
  // Continuous through lambda = 0.
  BOOST_TEST(per_point_entropic_loss(v, xt, t, ref, 1e-7).item() == pa * 2.25 + pb * 6.25,
             boost::test_tools::tolerance(1e-6));
  BOOST_CHECK_THROW(per_point_entropic_loss(v, xt, t, zeros({2, 3}, DType::f64), 0.1),
                    std::invalid_argument);
}

// At lambda = 0 its gradient is the empirical FM target's regression gradient; for lambda != 0
// the gradient matches finite differences, and early times with far references stay finite.
BOOST_AUTO_TEST_CASE(per_point_tilt_gradients) {
  Generator gen(31);
  const Tensor x1 = randn({6, 2}, gen, DType::f64), x0 = randn({6, 2}, gen, DType::f64);
  const Tensor extra = randn({5, 2}, gen, DType::f64) * 2.0;
  const Tensor t = uniform({6, 1}, 0.05, 0.95, gen, DType::f64);
  const Tensor xt = (1.0 - t) * x0 + t * x1;
  const Tensor ref = concat({x1, extra}, 0);
  const Tensor v0 = randn({6, 2}, gen, DType::f64);
  const auto g_point = grad(
      [&](const std::vector<Tensor>& w) { return per_point_entropic_loss(w[0], xt, t, ref, 0.0); },
      {v0})[0];
  const auto g_efm = grad(
      [&](const std::vector<Tensor>& w) { return cfm_loss(w[0], efm_target(xt, t, x1, extra)); },
      {v0})[0];
  BOOST_TEST(rel_error(g_point.to_vector(), g_efm.to_vector()) < 1e-12);
  for (double lambda : {0.4, -0.3}) {
    BOOST_TEST_CONTEXT("lambda " << lambda) {
      flowtape::test::check_gradients("per_point_entropic_loss",
                                      [&](const std::vector<Tensor>& w) {
                                        return per_point_entropic_loss(w[0], xt, t, ref, lambda);
                                      },
                                      {v0});
    }
  }
  // In f32 near t = 1 the row's own ||U_k||^2 ~ |x1 - x0|^2 comes from differences of size
  // 1 - t: it must match f64 (an f32 expansion of ||x1_k - x||^2 would miss by ~1e-7 / 1e-6).
  const Tensor late = full({6, 1}, 0.999, DType::f64);
  const Tensor xl = (1.0 - late) * x0 + late * x1;
  for (double lambda : {0.0, 0.3}) {
    const double f64 = per_point_entropic_loss(v0, xl, late, ref, lambda).item();
    const double f32 =
        per_point_entropic_loss(to_dtype(v0, DType::f32), to_dtype(xl, DType::f32),
                                to_dtype(late, DType::f32), to_dtype(ref, DType::f32), lambda)
            .item();
    BOOST_TEST(f32 == f64, boost::test_tools::tolerance(1e-3));
  }
  // A far reference whose posterior weight underflows in f32 still counts once tilted
  // (log-weights, not log of weights): f32 agrees with f64 where the tilt favours it.
  const Tensor corner = concat({x1, full({1, 2}, 6.0, DType::f64)}, 0);
  const Tensor mid = full({6, 1}, 0.6, DType::f64), xm = (1.0 - mid) * x0 + mid * x1;
  const double tilted64 = per_point_entropic_loss(v0, xm, mid, corner, 0.45).item();
  const double tilted32 =
      per_point_entropic_loss(to_dtype(v0, DType::f32), to_dtype(xm, DType::f32),
                              to_dtype(mid, DType::f32), to_dtype(corner, DType::f32), 0.45)
          .item();
  BOOST_TEST(tilted32 == tilted64, boost::test_tools::tolerance(1e-3));
  const Tensor far = concat({x1, full({1, 2}, 50.0, DType::f64)}, 0);
  BOOST_TEST(std::isfinite(
      per_point_entropic_loss(v0, xt, full({6, 1}, 0.01, DType::f64), far, 5.0).item()));
}

BOOST_AUTO_TEST_CASE(large_losses_do_not_overflow) {
  const Tensor l = vec({1e4, 1e4 - 1, 0.0, 5e3});
  const double expect = 1e4 + std::log((1 + std::exp(-1.0) + std::exp(-1e4) + std::exp(-5e3)) / 4);
  BOOST_TEST(entropic_loss(l, 1.0).item() == expect, boost::test_tools::tolerance(1e-12));
  const Tensor g = grad([](const Tensor& x) { return entropic_loss(x, 1.0); }, l);
  for (double w : g.to_vector()) BOOST_TEST(std::isfinite(w));
  BOOST_TEST(g.at(0) == 1 / (1 + std::exp(-1.0)), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(std::isfinite(entropic_loss(to_dtype(l, DType::f32), 1.0).item()));
}

BOOST_AUTO_TEST_CASE(gradient_is_the_softmax_weighted_cfm_gradient) {
  // A linear model v = x W on a batch; the entropic gradient in W must equal
  // sum_i softmax(lambda l)_i grad_W l_i, each grad_W l_i taken on its own.
  Generator gen(3);
  const Tensor x = randn({6, 2}, gen, DType::f64), u = randn({6, 2}, gen, DType::f64);
  const Tensor w = randn({2, 2}, gen, DType::f64);
  const double lambda = 0.7;
  const Tensor g = grad(
      [&](const Tensor& W) { return entropic_loss(per_sample_loss(matmul(x, W), u), lambda); }, w);
  const Tensor l = per_sample_loss(matmul(x, w), u);
  const std::vector<double> weights = softmax(l * lambda, 0).to_vector();
  std::vector<double> expect(4, 0.0);
  for (int i = 0; i < 6; ++i) {
    const Tensor gi = grad(
        [&](const Tensor& W) { return sum(slice(per_sample_loss(matmul(x, W), u), 0, i, i + 1)); },
        w);
    for (int k = 0; k < 4; ++k) expect[k] += weights[i] * gi.at(k);
  }
  BOOST_TEST(rel_error(g.to_vector(), expect) < 1e-12);
}

BOOST_AUTO_TEST_CASE(schedules) {
  const auto ramp = LambdaSchedule::linear_ramp(0.4, 100, 300);
  BOOST_TEST(ramp(0) == 0.0);
  BOOST_TEST(ramp(100) == 0.0);
  BOOST_TEST(ramp(200) == 0.2, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(ramp(300) == 0.4);
  BOOST_TEST(ramp(10000) == 0.4);
  BOOST_TEST(LambdaSchedule::constant(0.25)(7) == 0.25);
  BOOST_CHECK_THROW(LambdaSchedule::linear_ramp(0.4, 10, 10), std::invalid_argument);
  BOOST_CHECK_THROW(entropic_loss(zeros({2, 2}), 0.1), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(divergence_matching)

namespace {
// v(x) = A x + b on rows: x [B, 2] -> x A^T + b.
VelocityField linear_field(const Tensor& A, const Tensor& b) {
  return [A, b](const Tensor& x, const Tensor&) { return matmul(x, A, false, true) + b; };
}

// docs/objectives.md's hand example: OT path, t = 0.5, x0 = (1, 0), x1 = (0, 2), the linear
// field of A and b below.
struct HandSetting {
  Tensor A = from_vector(std::vector<double>{0.5, 0.1, 0.2, -0.3}, Shape{2, 2}, DType::f64);
  Tensor b = from_vector(std::vector<double>{0.1, 0.2}, Shape{1, 2}, DType::f64);
  Tensor t = full({1, 1}, 0.5, DType::f64);
  PathSample p =
      Path::rectified().sample(from_vector(std::vector<double>{1, 0}, Shape{1, 2}, DType::f64),
                               from_vector(std::vector<double>{0, 2}, Shape{1, 2}, DType::f64), t);
};

// The setting of the FDM gradient checks: 4 path samples of dimension d at t in [0.1, 0.9], and
// the weights (W1 [d, 5], W2 [5, d], the time row [1, 5]) of a small tanh field.
struct GradientSetting {
  Tensor t;
  PathSample p;
  std::vector<Tensor> theta0;
};
GradientSetting gradient_setting(std::uint64_t seed, std::int64_t d) {
  Generator gen(seed);
  const Tensor x0 = randn({4, d}, gen, DType::f64), x1 = randn({4, d}, gen, DType::f64);
  const Tensor t = uniform({4, 1}, 0.1, 0.9, gen, DType::f64);
  const PathSample p = Path::rectified().sample(x0, x1, t);
  return {t,
          p,
          {randn({d, 5}, gen, DType::f64) * 0.8, randn({5, d}, gen, DType::f64) * 0.8,
           randn({1, 5}, gen, DType::f64)}};
}
}  // namespace

BOOST_AUTO_TEST_CASE(residual_matches_hand_values) {
  // The hand example with the probe z = (1, -1).
  const auto [A, b, t, p] = HandSetting{};
  BOOST_TEST(rel_error(p.xt.to_vector(), {0.5, 1.0}) < 1e-15);
  const Tensor z = from_vector(std::vector<double>{1, -1}, Shape{1, 2}, DType::f64);
  const FdmResidual hutch = fdm_residual(linear_field(A, b), p, t, {z});
  BOOST_TEST(rel_error(hutch.v.to_vector(), {0.45, 0.0}) < 1e-15);
  BOOST_TEST(hutch.residual.item() == -1.5, boost::test_tools::tolerance(1e-12));
  const FdmResidual exact = fdm_residual(linear_field(A, b), p, t, {});
  BOOST_TEST(exact.residual.item() == 0.65, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(official_column_sum_term_matches_hand_values) {
  // The setting above: J = A has column sums (0.7, -0.2); s = -x0 / (1 - t) = (-2, 0),
  // sigma'/sigma = -2, v - u = (1.45, -2), so e = 0.5 (0.7 - 2.9 + 2, -0.2 + 0 + 2) = (-0.1, 0.9).
  const auto [A, b, t, p] = HandSetting{};
  const VelocityField f = linear_field(A, b);
  const FdmColumnResidual e = fdm_column_residual(f, p, t);
  BOOST_TEST(rel_error(e.residual.to_vector(), {-0.1, 0.9}) < 1e-14);
  BOOST_TEST(rel_error(jacobian_column_sums(f, p.xt, t).column_sums.to_vector(), {0.7, -0.2}) <
             1e-14);
  // The official code's total, MSE + 0.1 (L_colsum + L_der + d^2 MSE), MSE over coordinates.
  const FdmOptions o = fdm_official_options(2);
  BOOST_TEST(o.w_cfm == 0.7, boost::test_tools::tolerance(1e-15));
  Generator gen(3), same(3);
  const FdmLoss l = fdm_loss(f, p, t, gen, o);
  const Tensor z = make_probes(ProbeKind::rademacher, 1, p.xt.shape(), same, DType::f64)[0];
  const double l_der = square(fdm_residual(f, p, t, {z}).residual).item();
  const double mse = mean(square(l.v - p.ut)).item();
  BOOST_TEST(l.colsum.item() == 0.41, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(l.total.item() == mse + 0.1 * (0.41 + l_der + 4 * mse),
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(!fdm_loss(f, p, t, gen, FdmOptions{}).colsum.defined());  // off by default
  BOOST_CHECK_THROW(fdm_official_options(0), std::invalid_argument);
  FdmOptions infinite;
  infinite.w_div = INFINITY;  // inf * 0 would make the total NaN
  BOOST_CHECK_THROW(fdm_loss(f, p, t, gen, infinite), std::invalid_argument);
  // t as [B] or a scalar, as Path::sample takes it: the same values, exact divergence and
  // column sums included (they needed [B, 1] and said so in an internal function's name).
  FdmOptions exact = o;
  exact.exact_divergence = true;
  for (const Tensor& other : {reshape(t, {-1}), reshape(t, Shape{})}) {
    Generator g1(3), g2(3);
    BOOST_TEST(fdm_loss(f, p, other, g1, exact).total.item() ==
               fdm_loss(f, p, t, g2, exact).total.item());
    BOOST_TEST(fdm_residual(f, p, other, {}).residual.item() == 0.65,
               boost::test_tools::tolerance(1e-12));
    BOOST_TEST(rel_error(fdm_column_residual(f, p, other).residual.to_vector(), {-0.1, 0.9}) <
               1e-14);
  }
}

BOOST_AUTO_TEST_CASE(official_loss_gradients_match_finite_differences) {
  const GradientSetting g0 = gradient_setting(23, 3);
  const Tensor& t = g0.t;
  const PathSample& p = g0.p;
  const std::vector<Tensor>& theta0 = g0.theta0;
  FdmOptions o = fdm_official_options(3);
  o.stop_gradient_v = false;
  flowtape::test::check_gradients(
      "official fdm_loss",
      [&](const std::vector<Tensor>& w) {
        const VelocityField f = [w](const Tensor& x, const Tensor& tt) {
          return matmul(tanh(matmul(x, w[0]) + tt * w[2]), w[1]);
        };
        Generator probes(7);
        return fdm_loss(f, p, t, probes, o).total;
      },
      theta0);
  // Four rows, each at its own time: t as [4] reaches the field as the same [4, 1] column
  // (a row taken for a column would mix the rows' times), exact divergence included.
  const VelocityField f0 = [&](const Tensor& x, const Tensor& tt) {
    BOOST_TEST((tt.shape() == Shape{4, 1}));
    return matmul(tanh(matmul(x, theta0[0]) + tt * theta0[2]), theta0[1]);
  };
  for (const bool exact : {false, true}) {
    FdmOptions e = o;
    e.exact_divergence = exact;
    Generator g1(7), g2(7);
    BOOST_TEST(fdm_loss(f0, p, reshape(t, {-1}), g1, e).total.item() ==
               fdm_loss(f0, p, t, g2, e).total.item());
  }
}

// With the exact trace the official loss takes its trace and its column sums from one set of d
// basis JVPs: d calls of the field instead of 2d, and the bits of the two computed apart.
BOOST_AUTO_TEST_CASE(exact_official_loss_shares_its_basis_jvps) {
  const GradientSetting g = gradient_setting(29, 3);
  const VelocityField f = [w = g.theta0](const Tensor& x, const Tensor& tt) {
    return matmul(tanh(matmul(x, w[0]) + tt * w[2]), w[1]);
  };
  int calls = 0;
  const VelocityField counted = [&](const Tensor& x, const Tensor& tt) {
    ++calls;
    return f(x, tt);
  };
  FdmOptions o = fdm_official_options(3);
  o.exact_divergence = true;
  Generator gen(1);
  const FdmLoss l = fdm_loss(counted, g.p, g.t, gen, o);
  BOOST_TEST(calls == 3);
  const double cdm = mean(square(fdm_residual(f, g.p, g.t, {}).residual)).item();
  const double colsum = mean(square(fdm_column_residual(f, g.p, g.t).residual)).item();
  BOOST_TEST(l.cdm.item() == cdm);  // bit for bit
  BOOST_TEST(l.colsum.item() == colsum);
  const FieldTraceAndColumnSums j = jacobian_trace_and_column_sums(f, g.p.xt, g.t);
  BOOST_TEST(j.div.to_vector() == divergence_exact(f, g.p.xt, g.t).div.to_vector());
  BOOST_TEST(j.column_sums.to_vector() ==
             jacobian_column_sums(f, g.p.xt, g.t).column_sums.to_vector());
}

BOOST_AUTO_TEST_CASE(exact_divergence_of_a_linear_field_is_its_trace) {
  Generator gen(5);
  const Tensor A = randn({4, 4}, gen, DType::f64), b = randn({1, 4}, gen, DType::f64);
  const Tensor x = randn({3, 4}, gen, DType::f64);
  const Tensor div = divergence_exact(linear_field(A, b), x, zeros({3, 1}, DType::f64)).div;
  const double tr = A.at(0) + A.at(5) + A.at(10) + A.at(15);
  for (double d : div.to_vector()) BOOST_TEST(d == tr, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(exact_divergence_of_a_nonlinear_field_matches_finite_differences) {
  Generator gen(6);
  const Tensor W = randn({3, 3}, gen, DType::f64) * 0.7;
  const VelocityField field = [&](const Tensor& x, const Tensor& t) {
    return tanh(matmul(x, W) + t) * x;
  };
  const Tensor x = randn({2, 3}, gen, DType::f64), t = full({2, 1}, 0.3, DType::f64);
  const Tensor div = divergence_exact(field, x, t).div;
  const double h = 1e-6;
  for (int i = 0; i < 2; ++i) {
    double fd = 0;
    for (int j = 0; j < 3; ++j) {
      Tensor e = zeros({2, 3}, DType::f64);
      e.mutable_data<double>()[i * 3 + j] = h;
      fd += (field(x + e, t).at(i * 3 + j) - field(x - e, t).at(i * 3 + j)) / (2 * h);
    }
    BOOST_TEST(div.at(i) == fd, boost::test_tools::tolerance(1e-7));
  }
}

BOOST_AUTO_TEST_CASE(hutchinson_is_unbiased) {
  Generator gen(11);
  const Tensor A = randn({3, 3}, gen, DType::f64), b = zeros({1, 3}, DType::f64);
  const double tr = A.at(0) + A.at(4) + A.at(8);
  const std::int64_t n = 20000;  // one probe per row: n independent estimates
  const Tensor x = randn({n, 3}, gen, DType::f64), t = zeros({n, 1}, DType::f64);
  for (ProbeKind kind : {ProbeKind::gaussian, ProbeKind::rademacher}) {
    const auto probes = make_probes(kind, 1, x.shape(), gen, DType::f64);
    const std::vector<double> est =
        divergence_hutchinson(linear_field(A, b), x, t, probes).div.to_vector();
    double m = 0, q = 0;
    for (double e : est) m += e;
    m /= n;
    for (double e : est) q += (e - m) * (e - m);
    const double se = std::sqrt(q / (n - 1) / n);
    BOOST_TEST(std::abs(m - tr) < 3 * se, "mean " << m << " vs trace " << tr << ", se " << se);
    BOOST_TEST(se > 0.0);
  }
  // Rademacher probes are +-1 exactly.
  for (double v : make_probes(ProbeKind::rademacher, 2, {50, 3}, gen, DType::f32)[1].to_vector()) {
    BOOST_TEST((v == 1.0 || v == -1.0));
  }
}

BOOST_AUTO_TEST_CASE(fdm_gradients_match_finite_differences) {
  // d L_FDM / d theta for a small tanh field, with Hutchinson probes (the same seed at every
  // evaluation, so the probes are fixed) and with the exact trace.
  const GradientSetting g0 = gradient_setting(21, 2);
  const Tensor& t = g0.t;
  const PathSample& p = g0.p;
  const std::vector<Tensor>& theta0 = g0.theta0;
  auto field_of = [](const std::vector<Tensor>& w) -> VelocityField {
    return [w](const Tensor& x, const Tensor& tt) {
      return matmul(tanh(matmul(x, w[0]) + tt * w[2]), w[1]);
    };
  };
  for (bool exact : {false, true}) {
    FdmOptions o;
    o.exact_divergence = exact;
    o.probes = 2;
    auto fdm = [&](const std::vector<Tensor>& w, bool sg) {
      Generator probes(99);
      FdmOptions oo = o;
      oo.stop_gradient_v = sg;
      return fdm_loss(field_of(w), p, t, probes, oo).total;
    };
    BOOST_TEST_CONTEXT("exact " << exact << ", no stop-gradient") {
      flowtape::test::check_gradients(
          "fdm_loss", [&](const std::vector<Tensor>& w) { return fdm(w, false); }, theta0);
    }
    BOOST_TEST_CONTEXT("exact " << exact << ", stop-gradient on v") {
      // With sg[v] the gradient is that of the loss whose score-product v is frozen at theta0.
      // That loss, evaluated independently: the residual with target u + v_theta - v_theta0 in
      // the product (so v_theta - u' = v_theta0 - u) and the CFM term on the true target.
      const Tensor v0 = field_of(theta0)(p.xt, t);
      Generator pg(99);
      const std::vector<Tensor> probes =
          exact ? std::vector<Tensor>{}
                : make_probes(ProbeKind::rademacher, 2, p.xt.shape(), pg, DType::f64);
      auto frozen_loss = [&](const std::vector<Tensor>& w) {
        const VelocityField f = field_of(w);
        PathSample q = p;
        q.ut = p.ut + f(p.xt, t) - v0;
        const Tensor r = fdm_residual(f, q, t, probes, false).residual;
        return (o.w_cfm * cfm_loss(f(p.xt, t), p.ut) + o.w_div * mean(square(r))).item();
      };
      BOOST_TEST(std::abs(frozen_loss(theta0) - fdm(theta0, true).item()) < 1e-12);
      const std::vector<Tensor> g =
          grad([&](const std::vector<Tensor>& w) { return fdm(w, true); }, theta0);
      const double h = 1e-6;
      for (std::size_t i = 0; i < theta0.size(); ++i) {
        std::vector<double> fd(static_cast<std::size_t>(theta0[i].numel()));
        for (std::int64_t j = 0; j < theta0[i].numel(); ++j) {
          std::vector<Tensor> plus = theta0, minus = theta0;
          plus[i] = copy(theta0[i]);
          minus[i] = copy(theta0[i]);
          plus[i].mutable_data<double>()[j] += h;
          minus[i].mutable_data<double>()[j] -= h;
          fd[static_cast<std::size_t>(j)] = (frozen_loss(plus) - frozen_loss(minus)) / (2 * h);
        }
        BOOST_TEST(rel_error(g[i].to_vector(), fd) < 1e-6, "parameter " << i);
      }
      // And it differs from the full gradient (the stop-gradient does something).
      const std::vector<Tensor> full_g =
          grad([&](const std::vector<Tensor>& w) { return fdm(w, false); }, theta0);
      BOOST_TEST(rel_error(full_g[0].to_vector(), g[0].to_vector()) > 1e-3);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
