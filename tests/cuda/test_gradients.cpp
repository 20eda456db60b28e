// SPDX-License-Identifier: MIT
// Gradient checks in f64 on the GPU. The checked function moves its (CPU) inputs to the
// device, computes there and brings the result back, so tests/support/gradcheck.hpp runs
// unchanged on the host while every primitive's forward, JVP rule and VJP rule executes on the
// GPU - and to_device's own rules are checked along the way.
#include <boost/test/unit_test.hpp>

#include "gpu.hpp"
#include "support/gradcheck.hpp"

using namespace flowtape;
using test::check_gradients;

namespace {

Function on_gpu(Function f) {
  return [f](const std::vector<Tensor>& xs) {
    std::vector<Tensor> d;
    for (const Tensor& x : xs) d.push_back(to_device(x, Device::cuda));
    return to_device(f(d), Device::cpu);
  };
}

Tensor r(const Shape& s, std::uint64_t seed, double lo = -1.5, double hi = 1.5) {
  Generator gen(seed);
  return uniform(s, lo, hi, gen, DType::f64);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gradients, *test::needs_gpu())

BOOST_AUTO_TEST_CASE(elementwise_chain) {
  check_gradients("elementwise", on_gpu([](const std::vector<Tensor>& x) {
                    return tanh(x[0]) * sigmoid(x[1]) + silu(x[0] - x[1]) / (1.0 + square(x[1])) +
                           softplus(x[0]) * sin(x[1]) - cos(x[0]) +
                           exp(x[1] * 0.3) * expm1(x[0] * 0.2);
                  }),
                  {r({3, 5}, 1), r({3, 5}, 2)});
  check_gradients("positive", on_gpu([](const std::vector<Tensor>& x) {
                    return log(x[0]) + sqrt(x[0]) * log1p(x[0]) + pow(x[0], 1.5) + abs(x[0] - 1.0);
                  }),
                  {r({7}, 3, 0.2, 2.0)});
}

BOOST_AUTO_TEST_CASE(broadcasting_and_where) {
  check_gradients("broadcast", on_gpu([](const std::vector<Tensor>& x) {
                    return x[0] * x[1] + x[2] / (x[1] * x[1] + 1.0);
                  }),
                  {r({4, 1, 3}, 4), r({5, 1}, 5), r({}, 6)});
  check_gradients("where", on_gpu([](const std::vector<Tensor>& x) {
                    return where(greater(x[0], x[1]), x[0] * 2.0, relu(x[1]));
                  }),
                  {r({6, 3}, 7), r({3}, 8)});
}

BOOST_AUTO_TEST_CASE(reductions) {
  check_gradients("sum/max/lse", on_gpu([](const std::vector<Tensor>& x) {
                    return sum(x[0], 0) + max(x[0], 0) * 0.5 + logsumexp(x[0], 0, false);
                  }),
                  {r({5, 4}, 9)});
  check_gradients("softmax", on_gpu([](const std::vector<Tensor>& x) {
                    return softmax(x[0], 1) * x[1] + softmax(x[0], 0);
                  }),
                  {r({3, 6}, 10), r({3, 6}, 11)});
  check_gradients("mean", on_gpu([](const std::vector<Tensor>& x) { return mean(square(x[0])); }),
                  {r({2, 3, 4}, 12)});
}

BOOST_AUTO_TEST_CASE(matmul_and_mlp) {
  check_gradients("matmul transposes", on_gpu([](const std::vector<Tensor>& x) {
                    return matmul(x[0], x[1], true, false) + matmul(x[1], x[0], true, false);
                  }),
                  {r({4, 4}, 13), r({4, 4}, 14)});
  check_gradients("batched", on_gpu([](const std::vector<Tensor>& x) {
                    return matmul(x[0], x[1], false, true);
                  }),
                  {r({2, 3, 5}, 15), r({2, 4, 5}, 16)});
  check_gradients("linear + silu", on_gpu([](const std::vector<Tensor>& x) {
                    return silu(linear(x[0], x[1], x[2]));
                  }),
                  {r({6, 3}, 27), r({5, 3}, 28), r({5}, 29)});
  // A two-layer perceptron, the training workload.
  check_gradients("mlp", on_gpu([](const std::vector<Tensor>& x) {
                    const Tensor h = silu(matmul(x[0], x[1], false, true) + x[2]);
                    return sum(square(matmul(h, x[3], false, true)), 1);
                  }),
                  {r({6, 3}, 17), r({8, 3}, 18), r({8}, 19), r({2, 8}, 20)});
}

BOOST_AUTO_TEST_CASE(shape_ops) {
  check_gradients("slice/pad/concat/permute", on_gpu([](const std::vector<Tensor>& x) {
                    const Tensor c = concat({slice(x[0], 1, 1, 3), x[1]}, 1);
                    return permute(pad(c, 0, 1, 5), {1, 0}) * 2.0;
                  }),
                  {r({3, 4}, 21), r({3, 2}, 22)});
  check_gradients("broadcast_to/sum_to", on_gpu([](const std::vector<Tensor>& x) {
                    return sum_to(broadcast_to(x[0], {4, 3, 5}) * x[1], {3, 1});
                  }),
                  {r({3, 1}, 23), r({5}, 24)});
}

BOOST_AUTO_TEST_CASE(second_order) {
  // Reverse over forward on the device: the gradient of <v, J(x) v>, as the divergence
  // matching loss computes it.
  check_gradients("jvp inside", on_gpu([](const std::vector<Tensor>& x) {
                    const auto [y, jv] =
                        jvp([](const std::vector<Tensor>& a) { return tanh(a[0]) * a[0]; }, {x[0]},
                            {x[1]});
                    return sum(jv * x[1]) + sum(y);
                  }),
                  {r({5}, 25), r({5}, 26)});
}

// The composites and verbs of the core's second edition on the device: maximum, minimum and
// clamp (where and the comparisons), argmax, matmul over a 4-D broadcast batch, a function of
// two outputs through jvp and vjp, and a nested jvp.
BOOST_AUTO_TEST_CASE(second_edition_composites) {
  check_gradients("maximum, minimum, clamp", on_gpu([](const std::vector<Tensor>& x) {
                    return maximum(x[0], x[1]) * minimum(x[0], x[1]) + clamp(x[0], -0.5, 0.5);
                  }),
                  {r({4, 3}, 31), r({1, 3}, 32)});
  check_gradients("matmul 4-D broadcast",
                  on_gpu([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }),
                  {r({2, 1, 3, 4}, 33), r({2, 4, 2}, 34)});
  const Tensor x = r({2, 3}, 35);
  BOOST_TEST(argmax(to_device(x, Device::cuda), 1).to_vector() == argmax(x, 1).to_vector());
  const FunctionN two = [](const std::vector<Tensor>& a) {
    return std::vector<Tensor>{tanh(a[0]), sum(a[0] * a[0], 1, false)};
  };
  const Tensor xd = to_device(x, Device::cuda), vd = to_device(r({2, 3}, 36), Device::cuda);
  const auto [ys, dys] = jvp(two, {xd}, {vd});
  const auto [ys_cpu, dys_cpu] = jvp(two, {x}, {to_host(vd)});
  for (std::size_t i = 0; i < 2; ++i)
    BOOST_TEST(test::rel_error(dys[i].to_vector(), dys_cpu[i].to_vector()) < 1e-12);
  const auto d2 = jvp(
      [&](const Tensor& z) {
        return jvp([](const Tensor& q) { return q * q * q; }, z, ones_like(z)).second;
      },
      xd, ones_like(xd));
  BOOST_TEST(test::rel_error(d2.second.to_vector(), (x * 6.0).to_vector()) < 1e-12);
}

// Integer indexing and the integer / boolean dtypes on the device, against the CPU.
BOOST_AUTO_TEST_CASE(indexing_and_dtypes) {
  const Tensor rows = from_vector(std::vector<double>{2, 0, 2, 1}, {4}, DType::i64);
  const Tensor picks = from_vector(std::vector<double>{1, 1, 0, 2, 2, 0}, {3, 2}, DType::i64);
  check_gradients("index_select, gather, scatter_add", on_gpu([=](const std::vector<Tensor>& x) {
                    const Tensor r = to_device(rows, Device::cuda);
                    const Tensor p = to_device(picks, Device::cuda);
                    return index_select(x[0], 1, r) * 2.0 +
                           sum(scatter_add(gather(x[0], 1, p), 1, p, 3), 1, true);
                  }),
                  {r({3, 3}, 37)});
  const Tensor x = r({3, 4}, 38);
  const Tensor xd = to_device(x, Device::cuda);
  const Tensor mask = greater(xd, zeros_like(xd));
  BOOST_TEST(mask.dtype() == DType::boolean);
  BOOST_TEST(mask.to_vector() == greater(x, zeros_like(x)).to_vector());
  BOOST_TEST(where(mask, xd, -xd).to_vector() == abs(x).to_vector());
  BOOST_TEST(to_dtype(mask, DType::f64).to_vector() ==
             to_dtype(greater(x, zeros_like(x)), DType::f64).to_vector());
  BOOST_TEST(argmax(xd, 0).dtype() == DType::i64);
  BOOST_TEST(argmax(xd, 0).to_vector() == argmax(x, 0).to_vector());
  BOOST_TEST(to_dtype(to_device(rows, Device::cuda), DType::f32).to_vector() == rows.to_vector());
  BOOST_TEST(full({3}, 7.0, DType::i64, Device::cuda).to_vector() ==
             (std::vector<double>{7, 7, 7}));
  BOOST_CHECK_THROW(to_dtype(xd, DType::i64), std::invalid_argument);  // not whole numbers
  BOOST_CHECK_THROW(
      index_select(xd, 0,
                   to_device(from_vector(std::vector<double>{3}, {1}, DType::i64), Device::cuda)),
      std::out_of_range);
  BOOST_TEST(transpose(mask).to_vector() == transpose(greater(x, zeros_like(x))).to_vector());
}

// A tangent or seed on another device than its tensor is refused where it is given, naming
// the device, not later inside some rule as a device mismatch of an unrelated op.
BOOST_AUTO_TEST_CASE(tangents_and_seeds_must_be_on_their_tensors_device) {
  const Tensor x = full({3}, 2.0, DType::f32, Device::cuda);
  const Tensor on_cpu = ones({3}, DType::f32);
  const auto says_device = [](const std::invalid_argument& e) {
    return std::string(e.what()).find("device") != std::string::npos;
  };
  BOOST_CHECK_EXCEPTION(jvp([](const Tensor& v) { return exp(v); }, x, on_cpu),
                        std::invalid_argument, says_device);
  BOOST_CHECK_EXCEPTION(vjp([](const Tensor& v) { return exp(v); }, x, on_cpu),
                        std::invalid_argument, says_device);
}

BOOST_AUTO_TEST_SUITE_END()
