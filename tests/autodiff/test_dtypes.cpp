// SPDX-License-Identifier: MIT
// Integer and boolean tensors: creation and conversion rules, comparisons as boolean masks,
// where with a boolean condition, element moves on any dtype, the refusals (arithmetic and
// differentiation need floating point), and integer indexing's values and errors.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>

#include "flowtape/autodiff/autodiff.hpp"

using namespace flowtape;

namespace {
Tensor f64(std::vector<double> v, const Shape& s) {
  return from_vector(v, s, DType::f64);
}
Tensor i64(std::vector<double> v, const Shape& s) {
  return from_vector(v, s, DType::i64);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(dtypes)

BOOST_AUTO_TEST_CASE(creation_and_conversion) {
  const Tensor n = i64({3, -1, 7}, {3});
  BOOST_TEST(n.dtype() == DType::i64);
  BOOST_TEST(dtype_size(DType::i64) == 8u);
  BOOST_TEST(dtype_size(DType::boolean) == 1u);
  BOOST_TEST(n.data<std::int64_t>()[1] == -1);
  BOOST_TEST(n.to_vector() == (std::vector<double>{3, -1, 7}));
  BOOST_TEST(arange(4, DType::i64).to_vector() == (std::vector<double>{0, 1, 2, 3}));
  BOOST_TEST(full({2}, 5.0, DType::i64).data<std::int64_t>()[1] == 5);
  BOOST_TEST(zeros({2}, DType::boolean).to_vector() == (std::vector<double>{0, 0}));
  // Floating to i64 keeps whole numbers and refuses the rest rather than rounding or wrapping.
  BOOST_TEST(to_dtype(f64({-2, 0, 9}, {3}), DType::i64).data<std::int64_t>()[0] == -2);
  BOOST_CHECK_THROW(to_dtype(f64({2.5}, {1}), DType::i64), std::invalid_argument);
  BOOST_CHECK_THROW(to_dtype(f64({std::nan("")}, {1}), DType::i64), std::invalid_argument);
  BOOST_CHECK_THROW(to_dtype(f64({1e19}, {1}), DType::i64), std::invalid_argument);
  BOOST_CHECK_THROW(full({1}, 0.5, DType::i64), std::invalid_argument);
  BOOST_CHECK_THROW(i64({1.5}, {1}), std::invalid_argument);
  // Anything to bool is "not zero"; bool to a number is 0 or 1.
  const Tensor b = to_dtype(f64({0, -0.0, 2, std::nan("")}, {4}), DType::boolean);
  BOOST_TEST(b.to_vector() == (std::vector<double>{0, 0, 1, 1}));
  BOOST_TEST(to_dtype(b, DType::f32).to_vector() == (std::vector<double>{0, 0, 1, 1}));
  BOOST_TEST(to_dtype(n, DType::f64).to_vector() == (std::vector<double>{3, -1, 7}));
  BOOST_CHECK_THROW(n.data<double>(), std::invalid_argument);
  std::ostringstream os;
  os << DType::i64 << ' ' << DType::boolean;
  BOOST_TEST(os.str() == "i64 bool");
  // Printed as integers (exactly, past 2^53) and as true / false.
  BOOST_TEST(format(i64({3, -10}, {2})) == "tensor([  3, -10], i64)");
  BOOST_TEST(format(to_dtype(i64({0, 4}, {2}), DType::boolean)) == "tensor([false,  true], bool)");
  Tensor huge = zeros({1}, DType::i64);
  huge.mutable_data<std::int64_t>()[0] = 9007199254740993;
  BOOST_TEST(format(huge) == "tensor([9007199254740993], i64)");
}

BOOST_AUTO_TEST_CASE(comparisons_are_boolean_masks) {
  const Tensor a = f64({1, 2, 3}, {3}), b = f64({2, 2, 2}, {3});
  const Tensor gt = greater(a, b);
  BOOST_TEST(gt.dtype() == DType::boolean);
  BOOST_TEST(gt.to_vector() == (std::vector<double>{0, 0, 1}));
  BOOST_TEST(less(a, b).to_vector() == (std::vector<double>{1, 0, 0}));
  BOOST_TEST(equal(a, b).to_vector() == (std::vector<double>{0, 1, 0}));
  // Broadcasting, and NaN compares false.
  const Tensor nan = f64({std::nan(""), 1}, {2, 1});
  BOOST_TEST(greater(nan, f64({0, 5}, {2})).to_vector() == (std::vector<double>{0, 0, 1, 0}));
  // where takes the mask as is, or 0 / 1 in the operands' dtype (the two agree).
  BOOST_TEST(where(gt, a, b).to_vector() == (std::vector<double>{2, 2, 3}));
  BOOST_TEST(where(to_dtype(gt, DType::f64), a, b).to_vector() == (std::vector<double>{2, 2, 3}));
  BOOST_CHECK_THROW(where(to_dtype(gt, DType::f32), a, b), std::invalid_argument);
  BOOST_CHECK_THROW(where(i64({1, 0, 1}, {3}), a, b), std::invalid_argument);
  // The gradient flows through where's branches, not its mask.
  const Tensor g = grad([&](const Tensor& x) { return sum(where(greater(x, b), x * x, x)); }, a);
  BOOST_TEST(g.to_vector() == (std::vector<double>{1, 1, 6}));
}

BOOST_AUTO_TEST_CASE(moves_take_any_dtype_and_arithmetic_refuses) {
  const Tensor n = i64({0, 1, 2, 3, 4, 5}, {2, 3});
  BOOST_TEST(reshape(n, {3, 2}).dtype() == DType::i64);
  BOOST_TEST(transpose(n).to_vector() == (std::vector<double>{0, 3, 1, 4, 2, 5}));
  BOOST_TEST(slice(n, 1, 1, 3).to_vector() == (std::vector<double>{1, 2, 4, 5}));
  BOOST_TEST(concat({n, n}, 0).shape() == (Shape{4, 3}));
  BOOST_TEST(pad(n, 1, 1, 4).to_vector() == (std::vector<double>{0, 0, 1, 2, 0, 3, 4, 5}));
  const Tensor m = greater(to_dtype(n, DType::f64), scalar(2.0, DType::f64));
  BOOST_TEST(transpose(m).to_vector() == (std::vector<double>{0, 1, 0, 1, 0, 1}));
  // Arithmetic, reductions and mixed dtypes refuse, naming the op and the tensor.
  try {
    exp(n);
    BOOST_FAIL("exp of an i64 tensor was accepted");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("exp: needs floating-point tensors, got Tensor(i64") ==
               0u);
  }
  BOOST_CHECK_THROW(add(n, n), std::invalid_argument);
  BOOST_CHECK_THROW(sum(n, 0), std::invalid_argument);
  BOOST_CHECK_THROW(mul(m, m), std::invalid_argument);
  BOOST_CHECK_THROW(concat({n, to_dtype(n, DType::f64)}, 0), std::invalid_argument);
  // One tensor is returned as it is, but not for an axis it does not have.
  const Tensor f = ones({2, 3});
  BOOST_CHECK_THROW(concat({f}, 99), std::invalid_argument);
  BOOST_TEST(concat({f}, -1).impl() == f.impl());
  Generator gen(1);
  BOOST_CHECK_THROW(randn({2}, gen, DType::i64), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(integers_are_never_differentiated) {
  const Tensor n = i64({1, 2}, {2});
  Tape tape;
  BOOST_CHECK_THROW(tape.watch(n), std::invalid_argument);
  const Tensor x = f64({1, 2}, {2});
  tape.watch(x);
  BOOST_TEST(!tape.tracks(greater(x, x)));  // a boolean result has no slot
  BOOST_TEST(!tape.tracks(argmax(x, 0)));   // nor an i64 one
  BOOST_TEST(!tape.tracks(reshape(n, {2, 1})));
  BOOST_CHECK_THROW(jvp([](const Tensor& v) { return v; }, n, n), std::invalid_argument);
  BOOST_TEST(argmax(x, 0).dtype() == DType::i64);
  BOOST_TEST(argmax(x, 0).item() == 1.0);
}

BOOST_AUTO_TEST_CASE(index_select_and_gather_values) {
  const Tensor x = f64({0, 1, 2, 10, 11, 12}, {2, 3});
  // x[indices]: rows, repeats allowed, any order.
  BOOST_TEST(index_select(x, 0, i64({1, 1, 0}, {3})).to_vector() ==
             (std::vector<double>{10, 11, 12, 10, 11, 12, 0, 1, 2}));
  BOOST_TEST(index_select(x, 1, i64({2, 0}, {2})).to_vector() ==
             (std::vector<double>{2, 0, 12, 10}));
  BOOST_TEST(index_select(x, -1, i64({}, {0})).shape() == (Shape{2, 0}));
  // take_along_axis: each row picks its own columns.
  const Tensor picked = gather(x, 1, i64({2, 2, 0, 1}, {2, 2}));
  BOOST_TEST(picked.to_vector() == (std::vector<double>{2, 2, 10, 11}));
  BOOST_TEST(gather(x, 0, i64({1, 0, 1}, {1, 3})).to_vector() == (std::vector<double>{10, 1, 12}));
  // scatter_add sums repeats: the adjoint of gather, checked as <gather(x), y> = <x, scatter(y)>.
  BOOST_TEST(scatter_add(f64({1, 2, 4}, {3}), 0, i64({0, 2, 0}, {3}), 3).to_vector() ==
             (std::vector<double>{5, 0, 2}));
  const Tensor y = f64({1, -2, 3, 0.5}, {2, 2});
  const Tensor index = i64({2, 2, 0, 1}, {2, 2});
  BOOST_TEST(sum(gather(x, 1, index) * y).item() == sum(x * scatter_add(y, 1, index, 3)).item());
}

BOOST_AUTO_TEST_CASE(indexing_refuses_bad_indices) {
  const Tensor x = f64({0, 1, 2, 3}, {2, 2});
  try {
    index_select(x, 0, i64({0, 2}, {2}));
    BOOST_FAIL("an index past the end was accepted");
  } catch (const std::out_of_range& e) {
    BOOST_TEST(std::string(e.what()) ==
               "gather: index 2 (element 1 of the index) is outside [0, 2)");
  }
  BOOST_CHECK_THROW(index_select(x, 1, i64({-1}, {1})), std::out_of_range);
  BOOST_CHECK_THROW(index_select(x, 0, f64({0}, {1})), std::invalid_argument);  // not i64
  BOOST_CHECK_THROW(index_select(x, 0, i64({0, 1}, {1, 2})), std::invalid_argument);
  BOOST_CHECK_THROW(gather(x, 0, i64({0, 1}, {2})), std::invalid_argument);  // rank
  BOOST_CHECK_THROW(gather(x, 0, i64({0, 1, 0}, {1, 3})), std::invalid_argument);
  BOOST_CHECK_THROW(index_select(x, 2, i64({0}, {1})), std::invalid_argument);
  BOOST_CHECK_THROW(scatter_add(x, 0, i64({0, 1}, {2}), -1), std::invalid_argument);
  BOOST_CHECK_THROW(scatter_add(x, 0, i64({0, 3}, {2}), 3), std::out_of_range);
  BOOST_CHECK_THROW(scatter_add(x, 0, i64({0, 1, 1}, {3}), 3), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
