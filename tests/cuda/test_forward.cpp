// SPDX-License-Identifier: MIT
// Every primitive's CUDA forward against its CPU forward, in f32 and f64, on odd shapes (not
// multiples of a warp or a block), broadcast shapes, rank-0 operands and the reductions' two
// layouts (contiguous axis, strided axis).
#include <boost/test/unit_test.hpp>
#include <limits>

#include "gpu.hpp"

using namespace flowtape;
using test::check_same;
using V = std::vector<Tensor>;

namespace {

const DType kTypes[] = {DType::f32, DType::f64};

// Values in [lo, hi), seeded by shape so each case is reproducible.
Tensor data(const Shape& s, DType t, double lo = -2.0, double hi = 2.0, std::uint64_t seed = 1) {
  Generator gen(seed + static_cast<std::uint64_t>(s.numel()));
  return uniform(s, lo, hi, gen, t);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(forward, *test::needs_gpu())

BOOST_AUTO_TEST_CASE(unary_ops) {
  using Fn = Tensor (*)(const Tensor&);
  const std::pair<const char*, Fn> any_sign[] = {
      {"neg", neg},   {"exp", exp},           {"expm1", expm1},     {"square", square},
      {"abs", abs},   {"tanh", tanh},         {"sigmoid", sigmoid}, {"relu", relu},
      {"silu", silu}, {"softplus", softplus}, {"sin", sin},         {"cos", cos},
      {"sign", sign}};
  const std::pair<const char*, Fn> positive[] = {{"log", log}, {"log1p", log1p}, {"sqrt", sqrt}};
  for (DType t : kTypes)
    for (const Shape& s : {Shape{}, Shape{1}, Shape{37}, Shape{3, 257}, Shape{1031, 7}}) {
      const Tensor x = data(s, t, -30.0, 30.0);  // reaches the sigmoid/softplus saturations
      for (auto [name, f] : any_sign) check_same(name, [f](const V& in) { return f(in[0]); }, {x});
      const Tensor p = data(s, t, 1e-3, 5.0);
      for (auto [name, f] : positive) check_same(name, [f](const V& in) { return f(in[0]); }, {p});
      check_same("pow 1.7", [](const V& in) { return pow(in[0], 1.7); }, {p});
      check_same("pow -0.5", [](const V& in) { return pow(in[0], -0.5); }, {p});
    }
}

BOOST_AUTO_TEST_CASE(binary_ops_broadcast) {
  using Fn = Tensor (*)(const Tensor&, const Tensor&);
  const std::pair<const char*, Fn> ops[] = {{"add", add},        {"sub", sub},   {"mul", mul},
                                            {"div", div},        {"less", less}, {"equal", equal},
                                            {"greater", greater}};
  const std::pair<Shape, Shape> shapes[] = {{{37}, {37}},
                                            {{}, {5, 3}},
                                            {{7, 1, 3}, {5, 1}},
                                            {{1}, {129}},
                                            {{2, 3, 4, 5}, {3, 1, 5}},
                                            {{1031, 3}, {1, 3}},
                                            {{4, 1}, {1, 6}}};
  for (DType t : kTypes)
    for (const auto& [sa, sb] : shapes) {
      const Tensor a = data(sa, t), b = data(sb, t, 0.5, 3.0, 9);
      for (auto [name, f] : ops)
        check_same(name, [f](const V& in) { return f(in[0], in[1]); }, {a, b});
      // Equal values somewhere, so `equal` is not trivially all zeros.
      check_same("equal self", [](const V& in) { return equal(in[0], in[0]); }, {a});
    }
}

BOOST_AUTO_TEST_CASE(where_broadcast) {
  for (DType t : kTypes) {
    const Tensor c = greater(data({5, 1, 7}, t), scalar(0.0, t));
    const Tensor a = data({3, 7}, t), b = data({}, t);
    check_same("where", [](const V& in) { return where(in[0], in[1], in[2]); }, {c, a, b});
  }
}

BOOST_AUTO_TEST_CASE(reductions) {
  for (DType t : kTypes)
    for (const Shape& s :
         {Shape{1}, Shape{1000}, Shape{3, 4097}, Shape{5, 7, 9}, Shape{33, 1, 2}}) {
      const Tensor x = data(s, t, -10.0, 10.0);
      for (int axis = 0; axis < s.rank(); ++axis) {
        check_same("sum", [axis](const V& in) { return sum(in[0], axis); }, {x});
        check_same("sum keepdims", [axis](const V& in) { return sum(in[0], axis, true); }, {x});
        check_same("max", [axis](const V& in) { return max(in[0], axis); }, {x});
        check_same("logsumexp", [axis](const V& in) { return logsumexp(in[0], axis); }, {x});
        check_same("softmax", [axis](const V& in) { return softmax(in[0], axis); }, {x});
      }
      check_same("sum all", [](const V& in) { return sum(in[0]); }, {x});
    }
}

// Long axes with few outputs are cut into pieces whose partials a second kernel folds
// (reduce.cu). f32 on the device against f64 on the CPU from the same values, so the check is
// of the device's accuracy, not of two rounding errors against each other. Positive values, so
// no sum cancels; softmax scaled by the axis length to be O(1).
BOOST_AUTO_TEST_CASE(long_axis_reductions) {
  const std::pair<Shape, int> cases[] = {
      {{3, 70000}, 1},      // rows cut into pieces
      {{200001}, 0},        // one row
      {{70000, 37}, 0},     // columns cut into pieces
      {{4, 5000, 40}, 1},   // columns, outer > 1
      {{65536, 256}, 0},    // a bias gradient at batch 65536
      {{70000, 40}, 1},     // rows: more rows than a grid's y extent, strided
      {{70000, 40, 3}, 1},  // columns: more than a grid's z extent, strided
      {{4, 40, 70000}, 1},  // columns: outputs enough for one thread each
      {{2, 20, 3}, 1}};     // short axis: one thread per output
  for (const auto& [s, axis] : cases)
    for (DType t : kTypes) {
      const Tensor x = data(s, t, 0.5, 3.0);
      const Tensor ref = to_dtype(x, DType::f64);
      const double len = static_cast<double>(s[axis]);
      const double tol = t == DType::f32 ? 1e-5 : 1e-12;
      using F = Tensor (*)(const Tensor&, int, double);
      const std::pair<const char*, F> ops[] = {
          {"sum", [](const Tensor& v, int a, double) { return sum(v, a); }},
          {"max", [](const Tensor& v, int a, double) { return max(v, a); }},
          {"logsumexp", [](const Tensor& v, int a, double) { return logsumexp(v, a); }},
          {"softmax x len", [](const Tensor& v, int a, double n) { return softmax(v, a) * n; }}};
      for (auto [name, f] : ops)
        BOOST_TEST_CONTEXT(name << " over axis " << axis << " of " << x.str()) {
          const Tensor got = f(x.to(Device::cuda), axis, len);
          BOOST_TEST(got.device() == Device::cuda);
          BOOST_TEST(test::max_rel_diff(got.to_vector(), f(ref, axis, len).to_vector()) <= tol);
        }
    }
}

// The fused ops, which have their own kernels on the device.
BOOST_AUTO_TEST_CASE(fused_ops) {
  for (DType t : kTypes) {
    const double tol = t == DType::f32 ? 1e-4 : 1e-12;
    check_same(
        "linear", [](const V& in) { return linear(in[0], in[1], in[2]); },
        {data({37, 19}, t), data({23, 19}, t), data({23}, t)}, tol);
    check_same(
        "linear k = 1", [](const V& in) { return linear(in[0], in[1], in[2]); },
        {data({1031, 1}, t), data({5, 1}, t), data({5}, t)}, tol);
    const Tensor x = data({1031, 7}, t, -30.0, 30.0), g = data({7}, t);
    check_same("silu_grad", [](const V& in) { return silu_grad(in[0], in[1]); }, {x, g});
    check_same("silu_grad2", [](const V& in) { return silu_grad2(in[0], in[1]); }, {x, g});
  }
}

BOOST_AUTO_TEST_CASE(reduction_edge_values) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType t : kTypes) {
    // Row 0 all -inf (logsumexp -inf), row 1 has +inf, row 2 a NaN (max propagates it).
    const std::vector<double> v = {-inf, -inf, -inf, 1.0, inf, 2.0, 3.0, nan, 1.0};
    const Tensor x = from_vector(v, {3, 3}, t);
    // The same values after a long finite stretch, so the cut path merges the special values'
    // partial (in the last piece) with finite ones; along rows and, transposed, columns.
    const Tensor wide = concat({data({3, 5000}, t), x}, 1), tall = transpose(wide);
    const std::pair<Tensor, int> cases[] = {{x, 1}, {x, 0}, {wide, 1}, {tall, 0}};
    for (const auto& [in, axis] : cases) {
      const int a = axis;
      BOOST_TEST_CONTEXT("axis " << a << " of " << in.str()) {
        check_same("max", [a](const V& i) { return max(i[0], a); }, {in});
        check_same("logsumexp", [a](const V& i) { return logsumexp(i[0], a); }, {in});
        check_same("softmax", [a](const V& i) { return softmax(i[0], a); }, {in});
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(matmul_variants) {
  for (DType t : kTypes) {
    const double tol = t == DType::f32 ? 1e-4 : 1e-12;
    const Tensor a = data({37, 19}, t), b = data({19, 23}, t);
    check_same(
        "matmul", [](const V& in) { return matmul(in[0], in[1]); }, {a, b}, tol);
    const Tensor at = data({19, 37}, t), bt = data({23, 19}, t);
    check_same(
        "matmul a^T", [](const V& in) { return matmul(in[0], in[1], true, false); }, {at, b}, tol);
    check_same(
        "matmul b^T", [](const V& in) { return matmul(in[0], in[1], false, true); }, {a, bt}, tol);
    check_same(
        "matmul a^T b^T", [](const V& in) { return matmul(in[0], in[1], true, true); }, {at, bt},
        tol);
    const Tensor ba = data({3, 5, 7}, t), bb = data({3, 7, 2}, t), bbt = data({3, 2, 7}, t);
    check_same(
        "batched", [](const V& in) { return matmul(in[0], in[1]); }, {ba, bb}, tol);
    check_same(
        "batched b^T", [](const V& in) { return matmul(in[0], in[1], false, true); }, {ba, bbt},
        tol);
    check_same(
        "[..., m, k] @ [k, n]", [](const V& in) { return matmul(in[0], in[1]); },
        {data({2, 3, 4, 7}, t), data({7, 5}, t)}, tol);
    check_same(
        "k = 1", [](const V& in) { return matmul(in[0], in[1]); },
        {data({9, 1}, t), data({1, 4}, t)}, tol);
  }
}

// Rows wider than a 2-D copy's largest pitch (2^31 - 1 bytes) are copied one at a time: a
// [2, 2^29 + 1] f32 tensor (4.3 GB), sliced along its rows.
BOOST_AUTO_TEST_CASE(slices_of_rows_past_two_gib) {
  const std::int64_t len = (std::int64_t{1} << 29) + 1;
  Tensor x;
  try {
    x = full(Shape{2, len}, 2.0, DType::f32, Device::cuda);
  } catch (const std::runtime_error& e) {
    BOOST_TEST_MESSAGE("not run: the GPU has no room for 4.3 GB (" << e.what() << ")");
    return;
  }
  const Tensor s = slice(x, 1, len - 3, len);  // two rows of 3, from rows 2 GiB + 4 B apart
  BOOST_TEST(to_host(s).to_vector() == std::vector<double>(6, 2.0),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(shape_ops) {
  for (DType t : kTypes) {
    const Tensor x = data({3, 5, 7}, t);
    check_same("permute", [](const V& in) { return permute(in[0], {2, 0, 1}); }, {x});
    check_same("transpose", [](const V& in) { return transpose(in[0]); }, {x});
    check_same("slice", [](const V& in) { return slice(in[0], 1, 1, 4); }, {x});
    check_same("slice last", [](const V& in) { return slice(in[0], 2, 3, 7); }, {x});
    check_same("pad", [](const V& in) { return pad(in[0], 1, 2, 11); }, {x});
    check_same("pad first", [](const V& in) { return pad(in[0], 0, 1, 4); }, {x});
    check_same("concat",
               [](const V& in) {
                 return concat({in[0], in[1], in[0]}, 1);
               },
               {x, data({3, 2, 7}, t)});
    check_same("concat 0", [](const V& in) { return concat({in[0], in[0]}, 0); }, {x});
    check_same("broadcast_to",
               [](const V& in) {
                 return broadcast_to(in[0], {4, 3, 5, 7});
               },
               {data({3, 1, 7}, t)});
    check_same("sum_to", [](const V& in) { return sum_to(in[0], {5, 1}); }, {x});
    check_same("sum_to rank", [](const V& in) { return sum_to(in[0], {1, 7}); }, {x});
    check_same("reshape + identity",
               [](const V& in) {
                 return identity(reshape(in[0], {-1, 7}));
               },
               {x});
  }
}

BOOST_AUTO_TEST_CASE(creation_and_copies) {
  for (DType t : kTypes) {
    const Tensor z = zeros({5, 3}, t, Device::cuda), f = full({1031}, 2.5, t, Device::cuda);
    BOOST_TEST(z.device() == Device::cuda);
    for (double v : z.to_vector()) BOOST_TEST(v == 0.0);
    for (double v : f.to_vector()) BOOST_TEST(v == 2.5);
    BOOST_TEST(full({}, -3.0, t, Device::cuda).item() == -3.0);
    const Tensor x = data({17, 3}, t);
    const Tensor g = x.to(Device::cuda);
    BOOST_TEST(test::max_rel_diff(copy(g).to_vector(), x.to_vector()) == 0.0);
    BOOST_TEST(g.at(5) == x.at(5));
    const DType other = t == DType::f32 ? DType::f64 : DType::f32;
    BOOST_TEST(test::max_rel_diff(to_dtype(g, other).to_vector(), to_dtype(x, other).to_vector()) ==
               0.0);
    BOOST_TEST(to_host(g).device() == Device::cpu);
    BOOST_TEST(g.to(Device::cuda).impl() == g.impl());  // already there: the same tensor
  }
}

BOOST_AUTO_TEST_CASE(device_mismatch_is_an_error) {
  const Tensor a = ones({3}), b = ones({3}, DType::f32, Device::cuda);
  BOOST_CHECK_THROW(add(a, b), std::invalid_argument);
  BOOST_CHECK_THROW(b.data<float>(), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
