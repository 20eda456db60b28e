// SPDX-License-Identifier: MIT
// Looking at values and tapes: the tensor printer (layout, summarising, notation, non-finite
// values) and Tape::dump / Tape::to_dot on a small recorded graph.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "flowtape/autodiff/autodiff.hpp"

using namespace flowtape;

namespace {

Tensor values(std::vector<double> v, const Shape& shape, DType dtype = DType::f32) {
  return from_vector(std::span<const double>(v), shape, dtype);
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(inspect)

BOOST_AUTO_TEST_CASE(printer_lays_out_rows_like_numpy) {
  const Tensor x = values({1, -2.5, 3, 4, 5, 6}, {2, 3});
  BOOST_TEST(format(x) ==
             "tensor([[ 1.0000, -2.5000,  3.0000],\n"
             "        [ 4.0000,  5.0000,  6.0000]], f32)");
  std::ostringstream os;
  os << values({0.5}, {}, DType::f64);
  BOOST_TEST(os.str() == "tensor(0.5000, f64)");
  BOOST_TEST(format(values({1, 2}, {2}), {.precision = 1}) == "tensor([1.0, 2.0], f32)");
  // Rank 3: a blank line between the outer blocks.
  BOOST_TEST(format(values({1, 2, 3, 4}, {2, 1, 2}), {.precision = 0}) ==
             "tensor([[[1, 2]],\n\n        [[3, 4]]], f32)");
  BOOST_TEST(format(Tensor()) == "tensor(undefined)");
  BOOST_TEST(format(zeros({0, 3})) == "tensor([], shape=[0, 3], f32)");
}

BOOST_AUTO_TEST_CASE(printer_summarises_large_tensors_and_switches_notation) {
  std::vector<double> v(2000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 1000.0 + static_cast<double>(i);
  const std::string s = format(values(v, {2000}, DType::f64), {.precision = 0});
  BOOST_TEST(s == "tensor([1000, 1001, 1002, ..., 2997, 2998, 2999], f64)");
  const std::string rows = format(values(v, {1000, 2}, DType::f64), {.precision = 0});
  BOOST_TEST(contains(rows, "tensor([[1000, 1001],\n"));
  BOOST_TEST(contains(rows, "...,\n"));
  BOOST_TEST(contains(rows, "[2998, 2999]]"));
  // A small threshold summarises a small tensor too; edge_items sets how much is kept.
  BOOST_TEST(
      format(values({1, 2, 3, 4, 5}, {5}), {.precision = 0, .threshold = 4, .edge_items = 1}) ==
      "tensor([1, ..., 5], f32)");

  BOOST_TEST(format(values({1e9, 1}, {2}, DType::f64), {.precision = 2}) ==
             "tensor([1.00e+09, 1.00e+00], f64)");
  BOOST_TEST(format(values({1e-6, 1}, {2}, DType::f64), {.precision = 2}) ==
             "tensor([1.00e-06, 1.00e+00], f64)");
  // Small values alone would print as zeros in fixed notation (small gradients, say).
  BOOST_TEST(format(values({1e-6, 2e-6, 0}, {3}, DType::f64), {.precision = 2}) ==
             "tensor([1.00e-06, 2.00e-06, 0.00e+00], f64)");
  // A spread above 1e3 too: 0.5 and 2000 would lose 0.5's digits next to 2000's.
  BOOST_TEST(format(values({0.5, 2000}, {2}, DType::f64), {.precision = 1}) ==
             "tensor([5.0e-01, 2.0e+03], f64)");
  BOOST_TEST(format(values({NAN, INFINITY, -INFINITY, 1}, {4}), {.precision = 1}) ==
             "tensor([ nan,  inf, -inf,  1.0], f32)");
}

BOOST_AUTO_TEST_CASE(dump_and_dot_show_the_recorded_graph) {
  Generator gen(0);
  const Tensor x = randn({4, 2}, gen), w = randn({2, 3}, gen);
  {
    Tape tape;
    tape.watch(w);
    const Tensor loss = sum(tanh(matmul(x, w)));  // a full sum flattens first
    BOOST_TEST(tape.dump() ==
               "tape: 4 nodes, 5 slots\n"
               "  %1 = matmul(const [4, 2] f32, %0) -> [4, 3] f32\n"
               "  %2 = tanh(%1) -> [4, 3] f32\n"
               "  %3 = reshape(%2) -> [12] f32\n"
               "  %4 = sum(%3) -> [] f32\n");
    const std::string dot = tape.to_dot();
    BOOST_TEST(contains(dot, "digraph tape {"));
    BOOST_TEST(contains(dot, "s0 [shape=box"));  // the watched leaf
    BOOST_TEST(contains(dot, "s0 -> s1;"));
    BOOST_TEST(contains(dot, "c0 -> s1"));  // x, a constant input
    BOOST_TEST(contains(dot, "s3 -> s4;"));
    BOOST_TEST(dot.back() == '\n');
    BOOST_TEST(loss.item() == sum(tanh(matmul(x, w))).item());
  }
  Tape empty;
  BOOST_TEST(empty.dump() == "tape: 0 nodes, 0 slots\n");
}

BOOST_AUTO_TEST_SUITE_END()
