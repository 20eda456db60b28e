// SPDX-License-Identifier: MIT
// Every primitive (and the composites) checked in f64: JVP and VJP against central finite
// differences, and the dot-product test <u, J v> == <J^T u, v>, including broadcast shapes;
// then the same value, JVP and VJP in f32 against f64 (support/gradcheck.hpp).
// The second-order cases check that each op's rules are themselves differentiable.
#include <array>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <set>
#include <string>

#include "flowtape/autodiff/op_list.hpp"
#include "support/gradcheck.hpp"

using namespace flowtape;
using flowtape::test::check_gradients;
using flowtape::test::GradcheckOptions;

namespace {

Generator& gen() {
  static Generator g(42);
  return g;
}
Tensor normal(const Shape& s) { return randn(s, gen(), DType::f64); }
Tensor positive(const Shape& s) { return uniform(s, 0.5, 2.0, gen(), DType::f64); }
// Values away from 0 (the kinks of relu and abs, the pole of div).
Tensor away_from_zero(const Shape& s) {
  Tensor x = uniform(s, 0.2, 2.0, gen(), DType::f64);
  Tensor flip = greater(rand(s, gen(), DType::f64), scalar(0.5, DType::f64));
  return x * (to_dtype(flip, DType::f64) * 2.0 - 1.0);
}

// Same shape and the same bits (f32 values widen to f64 exactly, so the f64 copies compare
// the f32 bits too).
// The primitives whose rules second_order_through_every_rule differentiates again.
std::set<std::string>& second_order_primitives() {
  static std::set<std::string> names;
  return names;
}

// A captured f64 constant in the dtype of x, so a checked function runs in f32 too.
Tensor like(const Tensor& t, const Tensor& x) {
  return to_dtype(t, x.dtype());
}

bool bits_equal(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  return a.shape() == b.shape() &&
         std::memcmp(va.data(), vb.data(), va.size() * sizeof(double)) == 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_gradients)

BOOST_AUTO_TEST_CASE(binary_with_broadcasting) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{2, 1, 3}, {4, 1}}, {{}, {3}}, {{5, 1}, {1, 2}}};
  for (const auto& [sa, sb] : shapes) {
    check_gradients("add", [](auto& x) { return x[0] + x[1]; }, {normal(sa), normal(sb)});
    check_gradients("sub", [](auto& x) { return x[0] - x[1]; }, {normal(sa), normal(sb)});
    check_gradients("mul", [](auto& x) { return x[0] * x[1]; }, {normal(sa), normal(sb)});
    check_gradients("div", [](auto& x) { return x[0] / x[1]; }, {normal(sa), away_from_zero(sb)});
  }
}

BOOST_AUTO_TEST_CASE(where_with_broadcasting) {
  const Tensor cond = greater(normal({3, 1}), scalar(0.0, DType::f64));
  check_gradients("where", [&](auto& x) { return where(cond, x[0], x[1]); },
                  {normal({3, 4}), normal({4})});
}

BOOST_AUTO_TEST_CASE(unary) {
  const Shape s{3, 5};
  check_gradients("neg", [](auto& x) { return -x[0]; }, {normal(s)});
  check_gradients("exp", [](auto& x) { return exp(x[0]); }, {normal(s)});
  check_gradients("log", [](auto& x) { return log(x[0]); }, {positive(s)});
  check_gradients("expm1", [](auto& x) { return expm1(x[0]); }, {normal(s)});
  check_gradients("log1p", [](auto& x) { return log1p(x[0]); }, {positive(s)});
  check_gradients("sqrt", [](auto& x) { return sqrt(x[0]); }, {positive(s)});
  check_gradients("square", [](auto& x) { return square(x[0]); }, {normal(s)});
  check_gradients("pow 3", [](auto& x) { return pow(x[0], 3.0); }, {normal(s)});
  check_gradients("pow -1.5", [](auto& x) { return pow(x[0], -1.5); }, {positive(s)});
  check_gradients("abs", [](auto& x) { return abs(x[0]); }, {away_from_zero(s)});
  check_gradients("tanh", [](auto& x) { return tanh(x[0]); }, {normal(s)});
  check_gradients("sigmoid", [](auto& x) { return sigmoid(x[0]); }, {normal(s)});
  check_gradients("relu", [](auto& x) { return relu(x[0]); }, {away_from_zero(s)});
  check_gradients("silu", [](auto& x) { return silu(x[0]); }, {normal(s)});
  check_gradients("softplus", [](auto& x) { return softplus(x[0]); }, {normal(s) * 3.0});
  check_gradients("sin", [](auto& x) { return sin(x[0]); }, {normal(s)});
  check_gradients("cos", [](auto& x) { return cos(x[0]); }, {normal(s)});
  check_gradients("identity", [](auto& x) { return identity(x[0]); }, {normal(s)});
  // The fused derivatives of silu, also with broadcasting operands.
  check_gradients("silu_grad", [](auto& x) { return silu_grad(x[0], x[1]); },
                  {normal(s), normal(s)});
  check_gradients("silu_grad2", [](auto& x) { return silu_grad2(x[0], x[1]); },
                  {normal(s), normal(s)});
  check_gradients("silu_grad bcast", [](auto& x) { return silu_grad(x[0], x[1]); },
                  {normal({3, 1}), normal(s)});
  check_gradients("silu_grad2 bcast", [](auto& x) { return silu_grad2(x[0], x[1]); },
                  {normal(s), normal({5})});
  // With the denominator given (computed from x, so it is the cache the rules expect), and
  // broadcast against g: the rules must still give the whole derivative through x.
  // Same shapes with the denominator: silu_grad's VJP is then one fused kernel pass.
  check_gradients("silu_grad denom",
                  [](auto& x) { return silu_grad(x[0], x[1], 1.0 + exp(-x[0])); },
                  {normal({3, 5}), normal({3, 5})});
  check_gradients("silu_grad denom bcast",
                  [](auto& x) { return silu_grad(x[0], x[1], 1.0 + exp(-x[0])); },
                  {normal({3, 1}), normal(s)});
  check_gradients("silu_grad2 denom bcast",
                  [](auto& x) { return silu_grad2(x[0], x[1], 1.0 + exp(-x[0])); },
                  {normal({3, 1}), normal(s)});
}

// The fast-path primitives beside silu (ops_silu.cpp): each one's own rules, every output
// checked (a weighted sum of the outputs exercises the rules with all cotangents at once, each
// output alone the paths where some are zero). Their bits against the reference are checked in
// test_silu_paths.cpp.
BOOST_AUTO_TEST_CASE(silu_fast_path_primitives) {
  const Shape s{5, 3};
  // The reference, which silu() runs where nothing is differentiated (or on the GPU).
  check_gradients("silu (the reference primitive)", [](auto& x) { return apply(op_silu, {x[0]}); },
                  {normal(s) * 3.0});
  check_gradients("silu_keeping_denominator",
                  [](auto& x) { return detail::silu_keeping_denominator(x[0])[0]; },
                  {normal(s) * 3.0});
  const Tensor a = normal(s), c = normal(s);
  for (int use = 0; use < 3; ++use) {
    const std::string which = use == 0 ? " (y)" : use == 1 ? " (ty)" : " (y and ty)";
    check_gradients("silu_with_tangent" + which,
                    [=](auto& x) {
                      const TensorList r = detail::silu_with_tangent(x[0], x[1]);
                      return use == 0   ? r[0]
                             : use == 1 ? r[1]
                                        : r[0] * like(a, r[0]) + r[1] * like(c, r[1]);
                    },
                    {normal(s) * 3.0, normal(s)});
    check_gradients("silu_with_tangent_vjp" + which,
                    [=](auto& x) {
                      const TensorList r =
                          detail::silu_with_tangent_vjp(x[0], x[1], x[2], x[3], 1.0 + exp(-x[0]));
                      return use == 0   ? r[0]
                             : use == 1 ? r[1]
                                        : r[0] * like(a, r[0]) + r[1] * like(c, r[1]);
                    },
                    {normal(s) * 3.0, normal(s), normal(s), normal(s)});
  }
  const Tensor e = normal({3});
  check_gradients("silu_grad_column_sums",
                  [=](auto& x) {
                    const TensorList r =
                        detail::silu_grad_column_sums(x[0], x[1], 1.0 + exp(-x[0]));
                    return sum(r[0] * like(a, r[0])) + sum(r[1] * like(e, r[1]));
                  },
                  {normal(s) * 3.0, normal(s)});
  // Inputs of different shapes are refused, naming them.
  BOOST_CHECK_EXCEPTION(detail::silu_with_tangent(zeros({3, 4}), zeros({4})), std::invalid_argument,
                        [](const std::invalid_argument& error) {
                          return std::string(error.what()).find("[4]") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(reductions) {
  const Shape s{3, 4, 5};
  for (int axis : {0, 1, -1})
    for (bool keep : {false, true}) {
      check_gradients("sum", [=](auto& x) { return sum(x[0], axis, keep); }, {normal(s)});
      check_gradients("mean", [=](auto& x) { return mean(x[0], axis, keep); }, {normal(s)});
      check_gradients("max", [=](auto& x) { return max(x[0], axis, keep); }, {normal(s)});
      check_gradients("logsumexp", [=](auto& x) { return logsumexp(x[0], axis, keep); }, {normal(s)});
      check_gradients("min", [=](auto& x) { return min(x[0], axis, keep); }, {normal(s)});
    }
  for (int axis : {0, 1, 2})
    check_gradients("softmax", [=](auto& x) { return softmax(x[0], axis); }, {normal(s)});
  check_gradients("sum all", [](auto& x) { return sum(x[0]); }, {normal(s)});
  check_gradients("mean all", [](auto& x) { return mean(x[0]); }, {normal(s)});
  for (bool keep : {false, true}) {
    check_gradients("sum axes", [=](auto& x) { return sum(x[0], {0, -1}, keep); }, {normal(s)});
    check_gradients("mean axes", [=](auto& x) { return mean(x[0], {2, 1}, keep); }, {normal(s)});
  }
  // Several axes at once: the values of one axis after another, in either order given.
  const Tensor x = normal(s);
  BOOST_TEST(sum(x, {0, 2}).shape() == Shape{4});
  BOOST_TEST(sum(x, {2, 0}, true).shape() == (Shape{1, 4, 1}));
  BOOST_TEST(bits_equal(sum(x, {0, 2}), sum(sum(x, 2), 0)));
  BOOST_TEST(bits_equal(min(x, 1), -max(-x, 1)));
  BOOST_CHECK_THROW(sum(x, {1, -2}), std::invalid_argument);  // the same axis twice
}

BOOST_AUTO_TEST_CASE(linear_layer) {
  check_gradients("linear", [](auto& x) { return linear(x[0], x[1], x[2]); },
                  {normal({4, 3}), normal({5, 3}), normal({5})});
  check_gradients("linear 1 row", [](auto& x) { return linear(x[0], x[1], x[2]); },
                  {normal({1, 2}), normal({3, 2}), normal({3})});
  // Agrees with the unfused composite.
  const Tensor x = normal({4, 3}), w = normal({5, 3}), b = normal({5});
  const std::vector<double> fused = linear(x, w, b).to_vector(),
                            plain = (matmul(x, w, false, true) + b).to_vector();
  BOOST_TEST(flowtape::test::rel_error(fused, plain) < 1e-14);
}

// linear_silu: the fused op's own rules, through each differentiable output (y and z) and both
// (detail::linear_silu_op reaches its JVP rule, which linear_silu() leaves to the two ops),
// then the public function, in f64.
BOOST_AUTO_TEST_CASE(linear_silu_layer) {
  for (const auto& [m, k, n] : {std::array<std::int64_t, 3>{4, 3, 5}, {1, 2, 3}, {6, 5, 9}}) {
    const std::vector<Tensor> in = {normal({m, k}) * 2.0, normal({n, k}), normal({n})};
    const Tensor c = normal({m, n});
    check_gradients(
        "linear_silu op (y)", [](auto& x) { return detail::linear_silu_op(x[0], x[1], x[2])[0]; },
        in);
    check_gradients(
        "linear_silu op (y and z)",
        [=](auto& x) {
          const TensorList r = detail::linear_silu_op(x[0], x[1], x[2]);
          return r[0] + r[1] * like(c, r[1]);
        },
        in);
    check_gradients(
        "linear_silu", [](auto& x) { return linear_silu(x[0], x[1], x[2]); }, in);
  }
  // Shapes are checked, naming all three.
  BOOST_CHECK_EXCEPTION(linear_silu(zeros({4, 3}), zeros({5, 2}), zeros({5})),
                        std::invalid_argument, [](const std::invalid_argument& e) {
                          const std::string what = e.what();
                          return what.find("[4, 3]") != std::string::npos &&
                                 what.find("[5, 2]") != std::string::npos &&
                                 what.find("[5]") != std::string::npos;
                        });
}

// Integer indexing: gather (take_along_axis), index_select and scatter_add, with repeated
// indices (so scatter_add's sums and gather's shared cotangents are exercised), on every axis.
BOOST_AUTO_TEST_CASE(integer_indexing) {
  const Tensor rows = from_vector(std::vector<double>{2, 0, 2, 1}, {4}, DType::i64);
  for (int axis : {0, 1, 2}) {
    const Shape s{3, 3, 3};
    check_gradients("index_select axis " + std::to_string(axis),
                    [=](auto& x) { return index_select(x[0], axis, rows); }, {normal(s)});
    Shape is = s;
    is[axis] = 4;
    std::vector<double> picks;
    for (std::int64_t i = 0; i < is.numel(); ++i) picks.push_back(static_cast<double>((i * 7) % 3));
    const Tensor index = from_vector(picks, is, DType::i64);
    check_gradients("gather axis " + std::to_string(axis),
                    [=](auto& x) { return gather(x[0], axis, index); }, {normal(s)});
    check_gradients("scatter_add axis " + std::to_string(axis),
                    [=](auto& x) { return scatter_add(x[0], axis, index, 5); }, {normal(is)});
    check_gradients("scatter_add 1-D index axis " + std::to_string(axis),
                    [=](auto& x) { return scatter_add(x[0], axis, rows, 3); }, {normal(is)});
  }
}

// Elementwise maximum, minimum and clamp (composites): gradients away from ties and bounds;
// at a tie the gradient is split half and half, at a bound it passes (derivative 1).
BOOST_AUTO_TEST_CASE(maximum_minimum_clamp) {
  const Shape s{4, 3};
  check_gradients("maximum", [](auto& x) { return maximum(x[0], x[1]); }, {normal(s), normal(s)});
  check_gradients("minimum bcast", [](auto& x) { return minimum(x[0], x[1]); },
                  {normal(s), normal({1, 3})});
  check_gradients("clamp", [](auto& x) { return clamp(x[0], -0.5, 0.5); }, {normal(s)});
  const Tensor a = from_vector(std::vector<double>{1, 2, 3, 4}, {4}, DType::f64);
  const Tensor b = from_vector(std::vector<double>{1, 5, 0, 4}, {4}, DType::f64);
  const auto [y, g] = vjp([](const std::vector<Tensor>& p) { return maximum(p[0], p[1]); }, {a, b},
                          ones({4}, DType::f64));
  BOOST_TEST(y.to_vector() == (std::vector<double>{1, 5, 3, 4}));
  BOOST_TEST(g[0].to_vector() == (std::vector<double>{0.5, 0, 1, 0.5}));
  BOOST_TEST(g[1].to_vector() == (std::vector<double>{0.5, 1, 0, 0.5}));
  BOOST_TEST(minimum(a, b).to_vector() == (std::vector<double>{1, 2, 0, 4}));
  const Tensor edge = from_vector(std::vector<double>{-2, -1, 0, 1, 2}, {5}, DType::f64);
  BOOST_TEST(clamp(edge, -1, 1).to_vector() == (std::vector<double>{-1, -1, 0, 1, 1}));
  BOOST_TEST(grad([](const Tensor& x) { return sum(clamp(x, -1, 1)); }, edge).to_vector() ==
             (std::vector<double>{0, 1, 1, 1, 0}));
  const Tensor nan = full({2}, std::nan(""), DType::f64);
  BOOST_TEST(std::isnan(maximum(nan, zeros({2}, DType::f64)).at(0)));
  BOOST_TEST(std::isnan(clamp(nan, -1, 1).at(1)));
  BOOST_CHECK_THROW(clamp(a, 1, -1), std::invalid_argument);
}

// argmax / argmin: the first index of the extreme, no derivative, any axis.
BOOST_AUTO_TEST_CASE(argmax_argmin) {
  const Tensor x = from_vector(std::vector<double>{3, 1, 3, 0, 2, 5}, {2, 3}, DType::f64);
  BOOST_TEST(argmax(x, 1).to_vector() == (std::vector<double>{0, 2}));
  BOOST_TEST(argmin(x, 1).to_vector() == (std::vector<double>{1, 0}));
  BOOST_TEST(argmax(x, 0).to_vector() == (std::vector<double>{0, 1, 1}));
  BOOST_TEST(argmax(x, -1, true).shape() == (Shape{2, 1}));
  BOOST_TEST(argmax(x, 1).dtype() == DType::i64);
  Tape tape;
  tape.watch(x);
  BOOST_TEST(!tape.tracks(argmax(x, 1)));
  BOOST_CHECK_THROW(argmax(zeros({2, 0}), 1), std::invalid_argument);
  const Tensor with_nan =
      from_vector(std::vector<double>{1, std::nan(""), 3, 0, 2, 1}, {2, 3}, DType::f64);
  // A slice with a NaN: its first NaN's index, as NumPy's and PyTorch's (it was the length).
  BOOST_TEST(argmax(with_nan, 1).to_vector() == (std::vector<double>{1, 1}));
  BOOST_TEST(argmin(with_nan, 1).to_vector() == (std::vector<double>{1, 0}));
  const Tensor nans = from_vector(std::vector<double>{1, std::nan(""), 5, std::nan("")}, {4});
  BOOST_TEST(argmax(nans, 0).item() == 1.0);
  // An f32 axis past 2^24, where f32 positions round: 16777219 is not an f32.
  const std::int64_t long_axis = (std::int64_t{1} << 24) + 4;
  Tensor spike = zeros({long_axis});
  spike.mutable_data<float>()[long_axis - 1] = 1.0f;
  BOOST_TEST(argmax(spike, 0).item() == static_cast<double>(long_axis - 1));
}

BOOST_AUTO_TEST_CASE(matmul_all_forms) {
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    const Shape sa = ta ? Shape{4, 3} : Shape{3, 4}, sb = tb ? Shape{5, 4} : Shape{4, 5};
    check_gradients("matmul 2-D", [=](auto& x) { return matmul(x[0], x[1], ta, tb); },
                    {normal(sa), normal(sb)});
    const Shape ba = ta ? Shape{2, 4, 3} : Shape{2, 3, 4}, bb = tb ? Shape{2, 5, 4} : Shape{2, 4, 5};
    check_gradients("matmul batched", [=](auto& x) { return matmul(x[0], x[1], ta, tb); },
                    {normal(ba), normal(bb)});
  }
  check_gradients("matmul [..., m, k] @ [k, n]", [](auto& x) { return matmul(x[0], x[1]); },
                  {normal({2, 3, 4}), normal({4, 2})});
  // Batches of any rank, broadcast against each other.
  check_gradients("matmul 4-D", [](auto& x) { return matmul(x[0], x[1]); },
                  {normal({2, 3, 2, 4}), normal({2, 3, 4, 2})});
  check_gradients("matmul broadcast batch", [](auto& x) { return matmul(x[0], x[1], false, true); },
                  {normal({2, 1, 3, 4}), normal({5, 2, 4})});
  check_gradients("matmul [m, k] @ [b, k, n]", [](auto& x) { return matmul(x[0], x[1]); },
                  {normal({3, 4}), normal({2, 4, 5})});
  {
    const Tensor a = normal({2, 3, 2, 4}), b = normal({3, 4, 5});
    const Tensor c = matmul(a, b);
    BOOST_TEST(c.shape() == (Shape{2, 3, 2, 5}));
    // Each matrix of the batch against the 2-D product.
    const Tensor a11 = reshape(slice(slice(a, 0, 1, 2), 1, 1, 2), {2, 4});
    const Tensor b1 = reshape(slice(b, 0, 1, 2), {4, 5});
    BOOST_TEST(
        flowtape::test::rel_error(reshape(slice(slice(c, 0, 1, 2), 1, 1, 2), {2, 5}).to_vector(),
                                  matmul(a11, b1).to_vector()) < 1e-14);
  }
  BOOST_CHECK_THROW(matmul(normal({2, 3, 4}), normal({3, 4, 5})), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(shape_ops) {
  check_gradients("reshape", [](auto& x) { return reshape(x[0], {6, -1}); }, {normal({2, 3, 4})});
  check_gradients("broadcast_to", [](auto& x) { return broadcast_to(x[0], {2, 3, 4}); }, {normal({3, 1})});
  check_gradients("sum_to", [](auto& x) { return sum_to(x[0], {3, 1}); }, {normal({2, 3, 4})});
  check_gradients("permute", [](auto& x) { return permute(x[0], {2, 0, 1}); }, {normal({2, 3, 4})});
  check_gradients("transpose", [](auto& x) { return transpose(x[0]); }, {normal({2, 3, 4})});
  check_gradients("concat", [](auto& x) { return concat({x[0], x[1], x[2]}, 1); },
                  {normal({2, 1, 3}), normal({2, 4, 3}), normal({2, 2, 3})});
  check_gradients("slice rows", [](auto& x) { return slice(x[0], 0, 1, 3); }, {normal({4, 5})});
  check_gradients("slice columns", [](auto& x) { return slice(x[0], -1, 2, 4); }, {normal({4, 5})});
  check_gradients("pad", [](auto& x) { return pad(x[0], 1, 1, 6); }, {normal({4, 3})});
  check_gradients("squeeze", [](auto& x) { return squeeze(x[0], 1); }, {normal({4, 1, 3})});
  check_gradients("unsqueeze", [](auto& x) { return unsqueeze(x[0], -1); }, {normal({4, 3})});
  BOOST_TEST(unsqueeze(normal({4, 3}), 0).shape() == (Shape{1, 4, 3}));
  BOOST_TEST(unsqueeze(normal({4, 3}), 1).shape() == (Shape{4, 1, 3}));
  BOOST_TEST(squeeze(normal({1}), 0).shape() == Shape{});
  BOOST_CHECK_THROW(squeeze(normal({4, 3}), 1), std::invalid_argument);
  BOOST_CHECK_THROW(unsqueeze(normal({4, 3}), 3), std::invalid_argument);
}

// A composite: the rules compose through a whole expression.
BOOST_AUTO_TEST_CASE(composite_expression) {
  check_gradients(
      "mlp-like",
      [](auto& x) { return logsumexp(silu(matmul(x[0], x[1]) + x[2]), 1, false) * x[3]; },
      {normal({5, 3}), normal({3, 4}), normal({4}), normal({5})});
}

// Second order: the gradient of each op is itself checked, reverse-over-reverse and
// forward-over-reverse (the rules are written with differentiable ops).
BOOST_AUTO_TEST_CASE(second_order_through_every_rule) {
  const Tensor w = normal({3, 4});
  auto second = [&](const std::string& name, Function1 op, Tensor x) {
    Function g = [op, w](const std::vector<Tensor>& xs) {
      return grad([&](const Tensor& z) { return sum(op(z) * to_dtype(w, z.dtype())); }, xs[0]);
    };
    for (const std::string& p :
         flowtape::test::primitives_of([&](const std::vector<Tensor>& z) { return op(z[0]); }, {x}))
      second_order_primitives().insert(p);
    check_gradients("grad of " + name, g, {x});
  };
  const Shape s{3, 4};
  second("exp", [](const Tensor& x) { return exp(x); }, normal(s));
  second("log", [](const Tensor& x) { return log(x); }, positive(s));
  second("expm1", [](const Tensor& x) { return expm1(x); }, normal(s));
  second("log1p", [](const Tensor& x) { return log1p(x); }, positive(s));
  second("sqrt", [](const Tensor& x) { return sqrt(x); }, positive(s));
  second("pow", [](const Tensor& x) { return pow(x, 2.5); }, positive(s));
  second("tanh", [](const Tensor& x) { return tanh(x); }, normal(s));
  second("sigmoid", [](const Tensor& x) { return sigmoid(x); }, normal(s));
  second("silu", [](const Tensor& x) { return silu(x); }, normal(s));
  second("softplus", [](const Tensor& x) { return softplus(x); }, normal(s));
  second("silu_grad", [](const Tensor& x) { return silu_grad(x, x * x); }, normal(s));
  second("silu_grad with denominator",
         [](const Tensor& x) { return silu_grad(x, x * x, 1.0 + exp(-x)); }, normal(s));
  second("silu_grad2 with denominator",
         [](const Tensor& x) { return silu_grad2(x, x * x, 1.0 + exp(-x)); }, normal(s));
  second("silu_grad2", [](const Tensor& x) { return silu_grad2(x, sin(x)); }, normal(s));
  second("sin", [](const Tensor& x) { return sin(x); }, normal(s));
  second("cos", [](const Tensor& x) { return cos(x); }, normal(s));
  second("div", [](const Tensor& x) { return x / (x * x + 1.0); }, normal(s));
  second("softmax", [](const Tensor& x) { return softmax(x, 1); }, normal(s));
  second("logsumexp", [](const Tensor& x) { return broadcast_to(logsumexp(x, 0, true), {3, 4}); }, normal(s));
  second("max", [](const Tensor& x) { return broadcast_to(max(x, 1, true), {3, 4}) * x; }, normal(s));
  second("matmul", [](const Tensor& x) { return matmul(tanh(matmul(x, x, false, true)), x); }, normal(s));
  second(
      "linear",
      [](const Tensor& x) { return linear(x, tanh(matmul(x, x, true, false)), sum(x, 0)); },
      normal(s));
  second(
      "linear_silu",
      [](const Tensor& x) {
        return detail::linear_silu_op(x, tanh(matmul(x, x, true, false)), sum(x, 0))[0];
      },
      normal(s));
  second(
      "linear_silu through z",
      [](const Tensor& x) {
        const TensorList r = detail::linear_silu_op(x, tanh(matmul(x, x, true, false)), sum(x, 0));
        return r[0] * r[1];
      },
      normal(s));
  second(
      "silu_keeping_denominator",
      [](const Tensor& x) { return detail::silu_keeping_denominator(x)[0]; }, normal(s));
  second(
      "silu_with_tangent",
      [](const Tensor& x) {
        const TensorList r = detail::silu_with_tangent(x, sin(x));
        return r[0] * r[1];
      },
      normal(s));
  second(
      "silu_with_tangent_vjp",
      [](const Tensor& x) {
        const TensorList r = detail::silu_with_tangent_vjp(x, sin(x), x * x, cos(x), 1.0 + exp(-x));
        return r[0] * r[1];
      },
      normal(s));
  second(
      "silu_grad_column_sums",
      [](const Tensor& x) {
        const TensorList r = detail::silu_grad_column_sums(x, cos(x), 1.0 + exp(-x));
        return r[0] * broadcast_to(reshape(r[1], {1, 4}), {3, 4});
      },
      normal(s));
  second("where/relu", [](const Tensor& x) { return relu(x) * x; }, away_from_zero(s));
  second(
      "where", [](const Tensor& x) { return where(greater(x, zeros_like(x)), x * x, sin(x)); },
      away_from_zero(s));
  second(
      "sub and square", [](const Tensor& x) { return square(x) - sin(x); }, normal(s));
  second(
      "abs", [](const Tensor& x) { return abs(x) * x; }, away_from_zero(s));
  second(
      "identity", [](const Tensor& x) { return identity(x) * x; }, normal(s));
  second(
      "silu (the reference primitive)", [](const Tensor& x) { return apply(op_silu, {x}); },
      normal(s));
  second(
      "concat and slice",
      [](const Tensor& x) {
        return slice(concat({x * x, x}, 0), 0, 0, 3) * x;
      },
      normal(s));
  second(
      "pad", [](const Tensor& x) { return slice(pad(x * x, 1, 1, 6), 1, 1, 5) * x; }, normal(s));
  second(
      "permute",
      [](const Tensor& x) {
        return permute(permute(x, {1, 0}) * permute(x, {1, 0}), {1, 0});
      },
      normal(s));
  second(
      "gather and scatter_add",
      [](const Tensor& x) {
        const Tensor index = from_vector(std::vector<double>{3, 0, 0, 2, 1, 3}, {6}, DType::i64);
        const Tensor picked = index_select(x, 1, index);  // [3, 6]
        return scatter_add(picked * picked, 1, index, 4) * x;
      },
      normal(s));
  second(
      "sum_to",
      [](const Tensor& x) {
        return broadcast_to(sum_to(x * x, {1, 4}), {3, 4}) * x;
      },
      normal(s));
}

// Runs last in this suite: every primitive of the op list that has rules must have been
// gradient-checked above, in both modes (check_gradients saw it on the tape) and to second
// order, so a primitive added to the list without tests fails here, by name. to_device needs
// a GPU: tests/cuda/test_gradients.cpp checks it. Ops without a derivative must say so
// (both rules absent), and each OpDef's name is its row's.
BOOST_AUTO_TEST_CASE(every_primitive_is_checked) {
  const std::set<std::string> needs_a_gpu = {"to_device"};
  for (const OpDef* op : all_ops()) {
    BOOST_TEST_CONTEXT("primitive " << op->name) {
      BOOST_TEST((op->jvp == nullptr) == (op->vjp == nullptr));
      if (!op->vjp || needs_a_gpu.count(op->name)) continue;
      BOOST_TEST(flowtape::test::checked_primitives().count(op->name) == 1u,
                 op->name << " has no gradient check (test_op_gradients.cpp)");
      BOOST_TEST(second_order_primitives().count(op->name) == 1u,
                 op->name << " has no second-order check (second_order_through_every_rule)");
    }
  }
#define FLOWTAPE_NAME_MATCHES(row, ...) BOOST_TEST(std::string(op_##row.name) == #row);
  FLOWTAPE_PRIMITIVES(FLOWTAPE_NAME_MATCHES)
#undef FLOWTAPE_NAME_MATCHES
}

BOOST_AUTO_TEST_SUITE_END()
