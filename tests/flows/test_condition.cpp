// SPDX-License-Identifier: MIT
// Conditions: the null condition and its dropout, classifier-free guidance (w = 0 is the
// conditional field exactly; w > 0 the guidance formula), minibatch OT within classes (no row
// changes class), in-memory datasets with conditions, and 8gaussians' component labels.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>

#include "flowtape/flows/condition.hpp"
#include "flowtape/flows/coupling.hpp"
#include "flowtape/flows/datasets.hpp"
#include "flowtape/flows/losses.hpp"

using namespace flowtape;
using namespace flowtape::flows;

namespace {

const ConditionSpec kTwo{ConditionKind::labels, 2, 0};

// A field whose answer depends on the condition in a known way: v = x * (label + 2) for
// labels 0 and 1, and x * 10 for the null label -1.
Tensor toy_field(const Tensor& x, const Tensor& /*t*/, const Tensor& c) {
  std::vector<double> scale;
  for (double l : c.to_vector()) scale.push_back(l < 0 ? 10.0 : l + 2.0);
  return x * from_vector(scale, Shape{x.size(0), 1}, x.dtype());
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), static_cast<std::size_t>(a.nbytes())) == 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(conditions)

BOOST_AUTO_TEST_CASE(null_drop_and_repeat) {
  const Tensor c = from_vector(std::vector<double>{0, 1, 1}, Shape{3}, DType::i64);
  BOOST_TEST(null_condition(kTwo, 2).to_vector() == (std::vector<double>{-1, -1}),
             boost::test_tools::per_element());
  BOOST_TEST(
      drop_condition(kTwo, c, {true, false, true}).to_vector() == (std::vector<double>{0, -1, 1}),
      boost::test_tools::per_element());
  const ConditionSpec ctx{ConditionKind::context, 0, 2};
  const Tensor dropped =
      drop_condition(ctx, from_vector(std::vector<double>{1, 2, 3, 4}, Shape{2, 2}), {false, true});
  const std::vector<double> d = dropped.to_vector();
  BOOST_TEST((std::isnan(d[0]) && std::isnan(d[1]) && d[2] == 3 && d[3] == 4));
  // A context narrower than the spec's width is refused (its rows were written past).
  const ConditionSpec wide{ConditionKind::context, 0, 4};
  BOOST_CHECK_THROW(drop_condition(wide, from_vector(std::vector<double>{1, 2, 3, 4}, Shape{2, 2}),
                                   {false, true}),
                    std::invalid_argument);
  BOOST_TEST(repeat_condition(kTwo, from_vector(std::vector<double>{1}, Shape{1}, DType::i64), 3)
                     .to_vector() == (std::vector<double>{1, 1, 1}),
             boost::test_tools::per_element());
  BOOST_CHECK_THROW(
      check_condition(kTwo, from_vector(std::vector<double>{2}, Shape{1}, DType::i64), 1, "test"),
      std::invalid_argument);
  BOOST_CHECK_THROW(check_condition(kTwo, c, 4, "test"), std::invalid_argument);
  check_condition(kTwo, c, 3, "test");
  // Checked before the batch is allocated: a negative batch, a missing or too-wide value.
  const Tensor label = from_vector(std::vector<double>{1}, Shape{1}, DType::i64);
  BOOST_CHECK_THROW(repeat_condition(kTwo, label, -1), std::invalid_argument);
  BOOST_CHECK_THROW(repeat_condition(kTwo, Tensor(), 3), std::invalid_argument);
  BOOST_CHECK_THROW(repeat_condition(wide, from_vector(std::vector<double>{1, 2}, Shape{2}), 3),
                    std::invalid_argument);
  BOOST_TEST(
      repeat_condition(wide, from_vector(std::vector<double>{1, 2, 3, 4}, Shape{4}), 2).shape() ==
      (Shape{2, 4}));
}

BOOST_AUTO_TEST_CASE(guidance_at_zero_is_the_conditional_field_and_otherwise_the_formula) {
  Generator gen(3);
  const Tensor x = randn({4, 2}, gen), t = rand({4, 1}, gen);
  const Tensor c = from_vector(std::vector<double>{0, 1, 1, 0}, Shape{4}, DType::i64);
  const ConditionalField f = toy_field;
  BOOST_TEST(bitwise_equal(guided(f, c, kTwo, 0.0)(x, t), f(x, t, c)));
  const double w = 1.5;
  const std::vector<double> got = guided(f, c, kTwo, w)(x, t).to_vector(), xs = x.to_vector(),
                            labels = c.to_vector();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double scale = labels[i / 2] + 2.0;
    const double want = (1 + w) * scale * xs[i] - w * 10.0 * xs[i];
    BOOST_TEST(std::abs(got[i] - want) <= 1e-5 * (1 + std::abs(want)));
  }
  // The condition is checked against the spec where guidance is set up (a wrong dtype made a
  // NaN-filled i64 null condition), and guidance without a condition is refused in words.
  const ConditionSpec context{ConditionKind::context, 0, 2};
  BOOST_CHECK_THROW(guided(f, c, context, w), std::invalid_argument);
  BOOST_CHECK_THROW(
      guided(f, from_vector(std::vector<double>{5, 0, 1, 0}, Shape{4}, DType::i64), kTwo, w),
      std::invalid_argument);  // label 5 of two classes
  BOOST_CHECK_EXCEPTION(guided(f, Tensor(), ConditionSpec{}, w), std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return std::string(e.what()).find("needs a conditional field") !=
                                 std::string::npos;
                        });
}

// The conditional CFM loss by hand: with v = x (label + 2) and the rectified path, the loss is
// the mean over rows of |v(x_t) - (x1 - x0)|^2.
BOOST_AUTO_TEST_CASE(conditional_cfm_loss_matches_a_hand_computation) {
  const Tensor x0 = from_vector(std::vector<double>{0.5, -1.0, 2.0, 0.0}, Shape{2, 2}, DType::f64);
  const Tensor x1 = from_vector(std::vector<double>{1.0, 1.0, -1.0, 3.0}, Shape{2, 2}, DType::f64);
  const Tensor t = from_vector(std::vector<double>{0.25, 0.5}, Shape{2, 1}, DType::f64);
  const Tensor c = from_vector(std::vector<double>{1, 0}, Shape{2}, DType::i64);
  const Tensor xt = t * x1 + (1.0 - t) * x0;
  const double loss = cfm_loss(bind(toy_field, c)(xt, t), x1 - x0).item();
  // Row 0: x_t = (0.625, -0.5), v = 3 x_t = (1.875, -1.5), u = (0.5, 2.0);
  // row 1: x_t = (0.5, 1.5), v = 2 x_t = (1.0, 3.0), u = (-3.0, 3.0).
  const double want = (std::pow(1.875 - 0.5, 2) + std::pow(-1.5 - 2.0, 2) + std::pow(1.0 + 3.0, 2) +
                       std::pow(3.0 - 3.0, 2)) /
                      2.0;
  BOOST_TEST(std::abs(loss - want) < 1e-12);
}

// The class-conditional EFM target: a row of class k gets efm_target over class k's references
// alone; a row with no condition gets it over all of them.
BOOST_AUTO_TEST_CASE(conditional_efm_target_is_the_closed_form_of_each_rows_class) {
  Generator gen(8);
  const std::int64_t b = 12;
  const Tensor x1 = randn({b, 2}, gen, DType::f64), extra = randn({6, 2}, gen, DType::f64);
  const Tensor xt = randn({b, 2}, gen, DType::f64), t = rand({b, 1}, gen, DType::f64) * 0.9;
  std::vector<double> ref_labels, row_labels;
  for (int i = 0; i < b + 6; ++i) ref_labels.push_back(i % 2);
  for (int i = 0; i < b; ++i) row_labels.push_back(i == 5 ? -1 : i % 2);
  const Tensor got =
      efm_target_by_class(xt, t, x1, extra, from_vector(ref_labels, Shape{b + 6}, DType::i64),
                          from_vector(row_labels, Shape{b}, DType::i64));
  const Tensor all = concat({x1, extra}, 0);
  const auto rows_of = [&](int k) {
    std::vector<std::int64_t> r;
    for (int i = 0; i < b + 6; ++i)
      if (i % 2 == k) r.push_back(i);
    return take_rows(all, r);
  };
  const std::vector<double> g = got.to_vector();
  for (std::int64_t i = 0; i < b; ++i) {
    const Tensor xi = slice(xt, 0, i, i + 1), ti = slice(t, 0, i, i + 1);
    const Tensor want = i == 5 ? efm_target(xi, ti, all, Tensor())
                               : efm_target(xi, ti, rows_of(static_cast<int>(i % 2)), Tensor());
    const std::vector<double> w = want.to_vector();
    for (int k = 0; k < 2; ++k) BOOST_TEST(std::abs(g[2 * i + k] - w[k]) < 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(ot_within_classes_never_moves_a_row_to_another_class) {
  Generator gen(5);
  const std::int64_t b = 64;
  std::vector<double> labels, x1v;
  for (std::int64_t i = 0; i < b; ++i) {
    const int l = static_cast<int>(gen.uniform() * 3);
    labels.push_back(l);
    x1v.push_back(100.0 * l + gen.normal());  // column 0 says the class
    x1v.push_back(gen.normal());
  }
  const Tensor c = from_vector(labels, Shape{b}, DType::i64);
  const Tensor x1 = from_vector(x1v, Shape{b, 2});
  const Tensor x0 = randn({b, 2}, gen) * 50.0;  // far apart: OT across classes would mix them
  const std::vector<double> paired = couple_within_classes(x0, x1, c).x1.to_vector();
  for (std::int64_t i = 0; i < b; ++i)
    BOOST_TEST(std::lround(paired[2 * i] / 100.0) == std::lround(labels[i]));
  // One class: the same pairing as minibatch OT.
  const Tensor one = full(Shape{b}, 0.0, DType::i64);
  BOOST_TEST(bitwise_equal(couple_within_classes(x0, x1, one).x1,
                           couple(CouplingKind::minibatch_ot, x0, x1).x1));
}

BOOST_AUTO_TEST_CASE(tensor_datasets_keep_each_point_with_its_condition) {
  std::vector<double> xs, ls;
  for (int i = 0; i < 10; ++i) {
    xs.push_back(i);
    xs.push_back(-i);
    ls.push_back(i % 3);
  }
  const TensorDataset ds(from_vector(xs, Shape{10, 2}), from_vector(ls, Shape{10}, DType::i64));
  BOOST_TEST((ds.condition() == ConditionSpec{ConditionKind::labels, 3, 0}));
  Generator gen(1);
  const Dataset::Labeled s = ds.sample_labeled(50, gen);
  const std::vector<double> x = s.x.to_vector(), l = s.c.to_vector();
  for (int i = 0; i < 50; ++i) {
    BOOST_TEST(x[2 * i] == -x[2 * i + 1]);
    BOOST_TEST(static_cast<int>(x[2 * i]) % 3 == static_cast<int>(l[i]));
  }
  BOOST_CHECK_THROW(
      TensorDataset(from_vector(xs, Shape{10, 2}),
                    from_vector(std::vector<double>(10, -1.0), Shape{10}, DType::i64)),
      std::invalid_argument);
  BOOST_CHECK_THROW(TensorDataset(from_vector(xs, Shape{10, 2}),
                                  from_vector(std::vector<double>(9, 0.0), Shape{9}, DType::i64)),
                    std::invalid_argument);
  // A subset has distinct rows, each with its condition; all 10 is a permutation.
  for (std::int64_t n : {4, 10}) {
    const Dataset::Labeled sub = ds.subset(n, gen);
    std::vector<double> firsts;
    const std::vector<double> sx = sub.x.to_vector(), sl = sub.c.to_vector();
    for (std::int64_t i = 0; i < n; ++i) {
      firsts.push_back(sx[static_cast<std::size_t>(2 * i)]);
      BOOST_TEST(static_cast<int>(sx[static_cast<std::size_t>(2 * i)]) % 3 ==
                 static_cast<int>(sl[static_cast<std::size_t>(i)]));
    }
    std::sort(firsts.begin(), firsts.end());
    BOOST_TEST((std::adjacent_find(firsts.begin(), firsts.end()) == firsts.end()));
  }
  BOOST_CHECK_THROW(ds.subset(11, gen), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(eight_gaussians_labels_are_the_components) {
  const EightGaussians ds;
  Generator a(9), b(9);
  const Tensor plain = ds.sample(400, a);
  const Dataset::Labeled labeled = ds.sample_labeled(400, b);
  BOOST_TEST(bitwise_equal(plain, labeled.x));  // the same draws
  const std::vector<double> x = labeled.x.to_vector(), l = labeled.c.to_vector();
  for (int i = 0; i < 400; ++i) {
    const double angle = 2 * 3.141592653589793 * l[i] / 8;
    const double dx = x[2 * i] - 5 * std::cos(angle), dy = x[2 * i + 1] - 5 * std::sin(angle);
    BOOST_TEST(std::sqrt(dx * dx + dy * dy) < 2.5);  // within 5 std of its own centre
  }
}

BOOST_AUTO_TEST_SUITE_END()
