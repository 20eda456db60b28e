// SPDX-License-Identifier: MIT
// The contract of SiLU's fast-path primitives (autodiff/ops_silu.cpp, ops_layer.cpp): wherever
// silu() or linear_silu() picks one, every value, gradient, JVP and HVP has the bits of the
// reference composition (silu's plain primitive and silu_grad / silu_grad2 computed from x
// alone; linear then silu), in f32 and f64; the FDM pattern (reverse mode through a JVP)
// records one node per SiLU; and the residual buffers exist only under a tape. Their rules are
// gradient-checked with every other op's in test_op_gradients.cpp.
#include <array>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <string>
#include <utility>

#include "support/gradcheck.hpp"
#include "support/threads.hpp"

using namespace flowtape;
using flowtape::test::check_gradients;

namespace {

// Same shape and the same bits (f32 values widen to f64 exactly, so the f64 copies compare
// the f32 bits too).
bool bits_equal(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  return a.shape() == b.shape() &&
         std::memcmp(va.data(), vb.data(), va.size() * sizeof(double)) == 0;
}

// silu's output with no fast path: the reference primitive, run where nothing is recorded.
Tensor reference_silu(const Tensor& x) {
  NoGrad no_grad;
  return silu(x);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(silu_paths)

// Under a tape silu keeps its denominator and its rules hand it to silu_grad / silu_grad2;
// in jvp() it runs silu_with_tangent. Neither changes a bit.
BOOST_AUTO_TEST_CASE(silu_paths_give_the_reference_bits) {
  for (DType dt : {DType::f32, DType::f64}) {
    BOOST_TEST_CONTEXT(dtype_name(dt)) {
      Generator g(7);
      const Tensor x = randn({37, 5}, g, dt) * 4.0, u = randn({37, 5}, g, dt),
                   v = randn({37, 5}, g, dt);
      // VJP through the tape: u silu'(x).
      const auto [y, gx] = vjp([](const std::vector<Tensor>& p) { return silu(p[0]); }, {x}, u);
      BOOST_TEST(bits_equal(y, reference_silu(x)));
      BOOST_TEST(bits_equal(gx[0], silu_grad(x, u)));
      // JVP: silu'(x) v.
      const auto [y2, tangent] = jvp([](const Tensor& t) { return silu(t); }, x, v);
      BOOST_TEST(bits_equal(y2, reference_silu(x)));
      BOOST_TEST(bits_equal(tangent, silu_grad(x, v)));
      // Forward-over-reverse, H v of sum(u * silu(x)): u silu''(x) v.
      const Tensor hv = hvp([&](const Tensor& t) { return sum(u * silu(t)); }, x, v);
      BOOST_TEST(bits_equal(hv, silu_grad2(x, u * v)));
      // The denominator path of silu_grad and silu_grad2 against theirs from x alone.
      const Tensor d = 1.0 + exp(-x);
      BOOST_TEST(bits_equal(silu_grad(x, u, d), silu_grad(x, u)));
      BOOST_TEST(bits_equal(silu_grad2(x, u, d), silu_grad2(x, u)));
    }
  }
  // The residual is made only where the rules may run: recorded silu holds one more buffer of
  // x's size than silu under NoGrad (the denominator), which shows the path above is taken.
  Generator g3(3);
  const Tensor x = randn({64, 8}, g3, DType::f32);
  const std::size_t base = live_storage_bytes();
  std::size_t plain = 0, recorded = 0;
  {
    NoGrad no_grad;
    const Tensor y = silu(x);
    plain = live_storage_bytes() - base;
  }
  {
    Tape tape;
    tape.watch(x);
    const Tensor y = silu(x);
    recorded = live_storage_bytes() - base;
    BOOST_TEST(tape.dump().find("silu_keeping_denominator") != std::string::npos);
  }
  BOOST_TEST(plain >= 64u * 8u * 4u);
  BOOST_TEST(recorded == 2 * plain);
  // A denominator of the wrong shape is refused, naming both shapes.
  const Tensor z = zeros({3, 4});
  BOOST_CHECK_EXCEPTION(silu_grad(z, z, zeros({4})), std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return std::string(e.what()).find("[4]") != std::string::npos &&
                                 std::string(e.what()).find("[3, 4]") != std::string::npos;
                        });
}

// Reverse mode through a JVP of silu (the FDM loss at every SiLU layer): silu_with_tangent is
// one tape node for silu and its tangent, and its backward pass one kernel pass where both
// cotangents are nonzero. With the cotangents g of silu(x) and gt of its tangent, x gets
// (gt dx) silu''(x) + g silu'(x) and dx gets gt silu'(x), to the bit, also where only one of
// them is nonzero (x has no other use here; with another, the tape sums x's cotangents in
// another order, and the results agree to rounding).
BOOST_AUTO_TEST_CASE(silu_and_its_tangent_are_one_node) {
  for (DType dt : {DType::f32, DType::f64})
    for (const auto& [use_value, use_tangent] :
         {std::pair{true, true}, std::pair{false, true}, std::pair{true, false}}) {
      BOOST_TEST_CONTEXT(dtype_name(dt) << ", value " << use_value << ", tangent " << use_tangent) {
        Generator g(13);
        const Tensor x = randn({37, 5}, g, dt) * 4.0, dx = randn({37, 5}, g, dt),
                     u = randn({37, 5}, g, dt), v = randn({37, 5}, g, dt);
        Tape tape;
        tape.watch(x);
        tape.watch(dx);
        const std::size_t start = tape.num_nodes();
        jvp([](const Tensor& z) { return z; }, x, dx);
        const std::size_t framing = tape.num_nodes() - start;  // what jvp itself records
        const std::size_t before = tape.num_nodes();
        const auto [y, t] = jvp([](const Tensor& z) { return silu(z); }, x, dx);
        BOOST_TEST(tape.num_nodes() - before == framing + 1);
        BOOST_TEST(bits_equal(y, reference_silu(x)));
        BOOST_TEST(bits_equal(t, silu_grad(x, dx)));

        Tensor loss = scalar(0.0, dt);
        if (use_value) loss = loss + sum(u * y);
        if (use_tangent) loss = loss + sum(v * t);
        const auto grads = tape.gradient(loss, {x, dx});
        NoGrad no_grad;
        const Tensor through_tangent = silu_grad2(x, v * dx), through_value = silu_grad(x, u);
        const Tensor gx = use_value && use_tangent ? through_tangent + through_value
                          : use_tangent            ? through_tangent
                                                   : through_value;
        BOOST_TEST(bits_equal(grads[0], gx));
        BOOST_TEST(bits_equal(grads[1], use_tangent ? silu_grad(x, v) : zeros_like(dx)));
      }
    }
}

// The node's edges: x on the tape and its tangent not, or the reverse; a gradient asked of
// the tangent itself (the walk keeps its adjoint); x with a second use, against finite
// differences; a jvp under a tape that tracks none of its inputs records nothing.
BOOST_AUTO_TEST_CASE(silu_with_tangent_edges) {
  Generator gen19(19);
  const Tensor x = randn({9, 4}, gen19, DType::f64) * 3.0, dx = randn({9, 4}, gen19, DType::f64),
               u = randn({9, 4}, gen19, DType::f64), v = randn({9, 4}, gen19, DType::f64);
  auto loss_of = [&](const Tensor& y, const Tensor& t) { return sum(u * y) + sum(v * t); };
  {
    Tape tape;
    tape.watch(x);
    const auto [y, t] = jvp([](const Tensor& z) { return silu(z); }, x, dx);
    const Tensor gx = tape.gradient(loss_of(y, t), {x})[0];
    NoGrad no_grad;
    BOOST_TEST(bits_equal(gx, silu_grad2(x, v * dx) + silu_grad(x, u)));
  }
  {
    Tape tape;
    tape.watch(dx);
    const std::size_t before = tape.num_nodes();
    const auto [y, t] = jvp([](const Tensor& z) { return silu(z); }, x, dx);
    BOOST_TEST(tape.num_nodes() - before == 1u);
    const Tensor gdx = tape.gradient(loss_of(y, t), {dx})[0];
    NoGrad no_grad;
    BOOST_TEST(bits_equal(gdx, silu_grad(x, v)));
  }
  {
    Tape tape;
    tape.watch(x);
    tape.watch(dx);
    const auto [y, t] = jvp([](const Tensor& z) { return silu(z); }, x, dx);
    const auto grads = tape.gradient(loss_of(y, t), {t, x, y});
    NoGrad no_grad;
    BOOST_TEST(bits_equal(grads[0], v));
    BOOST_TEST(bits_equal(grads[1], silu_grad2(x, v * dx) + silu_grad(x, u)));
    BOOST_TEST(bits_equal(grads[2], u));
  }
  // (The JVP check nests a jvp around this one: silu then takes the reference path.)
  check_gradients("x silu(x) and its tangent",
                  [&](auto& p) {
                    const auto [y, t] =
                        jvp([](const Tensor& z) { return z * silu(z); }, p[0], p[1]);
                    return y * u + t * v;
                  },
                  {x, dx});
  {
    Tape tape;
    const Tensor w = scalar(1.0, DType::f64);
    tape.watch(w);
    const auto [y, t] = jvp([](const Tensor& z) { return silu(z); }, x, dx);
    BOOST_TEST(tape.num_nodes() == 0u);
    BOOST_TEST(bits_equal(y, reference_silu(x)));
    BOOST_TEST(bits_equal(t, silu_grad(x, dx)));
  }
}

// linear_silu gives the bits of linear then silu: the output with and without a tape, the
// gradients of a plain backward pass (silu_grad_column_sums), the JVP, Hessian-vector
// products and forward over reverse (through the primitives' own rules), in f32 and f64, on
// 1 and 2 threads, at shapes under and over the kernels' threading threshold and with ragged
// widths.
BOOST_AUTO_TEST_CASE(linear_silu_gives_the_bits_of_linear_then_silu) {
  for (DType dt : {DType::f32, DType::f64})
    for (int threads : {1, 2})
      for (const auto& [m, k, n] :
           {std::array<std::int64_t, 3>{37, 5, 11}, {300, 64, 256}, {1030, 3, 100}, {37, 5, 1}}) {
        BOOST_TEST_CONTEXT(dtype_name(dt) << " [" << m << ", " << k << "] -> " << n << ", "
                                          << threads << " threads") {
          flowtape::test::ScopedThreads scoped(threads);
          Generator g(5);
          const Tensor x = randn({m, k}, g, dt) * 2.0, w = randn({n, k}, g, dt),
                       b = randn({n}, g, dt), u = randn({m, n}, g, dt);
          const auto fused = [](const std::vector<Tensor>& p) {
            return linear_silu(p[0], p[1], p[2]);
          };
          const auto plain = [](const std::vector<Tensor>& p) {
            return silu(linear(p[0], p[1], p[2]));
          };
          const auto op = [](const std::vector<Tensor>& p) {
            return detail::linear_silu_op(p[0], p[1], p[2])[0];
          };
          {
            NoGrad no_grad;
            BOOST_TEST(bits_equal(linear_silu(x, w, b), reference_silu(linear(x, w, b))));
          }
          const auto [y_fused, grads_fused] = vjp(fused, {x, w, b}, u);
          const auto [y_plain, grads_plain] = vjp(plain, {x, w, b}, u);
          BOOST_TEST(bits_equal(y_fused, y_plain));
          for (std::size_t i = 0; i < 3; ++i)
            BOOST_TEST(bits_equal(grads_fused[i], grads_plain[i]));
          // The fused op's own JVP rule, and forward over reverse through its rules.
          const std::vector<Tensor> v = {randn({m, k}, g, dt), randn({n, k}, g, dt),
                                         randn({n}, g, dt)};
          BOOST_TEST(bits_equal(jvp(op, {x, w, b}, v).second, jvp(plain, {x, w, b}, v).second));
          const auto hv = [&](auto f) {
            return hvp([&](const Tensor& t) { return sum(u * f({t, w, b})); }, x, v[0]);
          };
          BOOST_TEST(bits_equal(hv(op), hv(plain)));
          // Forward over reverse where only the cotangent carries a tangent: the weight
          // gradient of sum(layer(x) * c), differentiated along c. The layer's inputs carry
          // none, so the fused op runs, and silu_grad_column_sums gets a tangent on g.
          const auto weight_grad = [&](auto layer) {
            return [&, layer](const std::vector<Tensor>& c) {
              return grad(
                  [&](const std::vector<Tensor>& p) {
                    return sum(layer({x, p[0], b}) * c[0]);
                  },
                  {w})[0];
            };
          };
          const Tensor dc = randn({m, n}, g, dt);
          BOOST_TEST(bits_equal(jvp(weight_grad(fused), {u}, {dc}).second,
                                jvp(weight_grad(plain), {u}, {dc}).second));
        }
      }
  // The residual (z and silu's denominator) is made only when the rules may run.
  Generator g(3);
  const Tensor x = randn({64, 8}, g, DType::f32), w = randn({16, 8}, g, DType::f32),
               b = randn({16}, g, DType::f32);
  const std::size_t base = live_storage_bytes();
  std::size_t plain = 0, recorded = 0;
  {
    NoGrad no_grad;
    const Tensor y = linear_silu(x, w, b);
    plain = live_storage_bytes() - base;
  }
  {
    Tape tape;
    tape.watch(x);
    const Tensor y = linear_silu(x, w, b);
    recorded = live_storage_bytes() - base;
    BOOST_TEST(tape.num_nodes() == 1u);  // one op, not linear and silu
  }
  BOOST_TEST(plain >= 64u * 16u * 4u);
  BOOST_TEST(recorded == 3 * plain);
}

BOOST_AUTO_TEST_SUITE_END()
