// SPDX-License-Identifier: MIT
// Every primitive (and the composites) checked in f64: JVP and VJP against central finite
// differences, and the dot-product test <u, J v> == <J^T u, v>, including broadcast shapes.
// The second-order cases check that each op's rules are themselves differentiable.
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstring>
#include <string>

#include "support/gradcheck.hpp"
#include "support/threads.hpp"

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
  return x * (flip * 2.0 - 1.0);
}

// Same shape and the same bits (f32 values widen to f64 exactly, so the f64 copies compare
// the f32 bits too).
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

// silu keeps its denominator 1 + e^-x as a residual when its rules will run, and its rules
// hand it to silu_grad / silu_grad2 instead of recomputing the exp. That must change no bit:
// the VJP, the JVP and forward-over-reverse against the same derivatives computed from x
// alone, in f32 and f64. (The finite-difference checks above already go through the residual.)
BOOST_AUTO_TEST_CASE(silu_residual_gives_the_same_bits) {
  for (DType dt : {DType::f32, DType::f64}) {
    Generator g(7);
    const Tensor x = randn({37, 5}, g, dt) * 4.0, u = randn({37, 5}, g, dt),
                 v = randn({37, 5}, g, dt);
    // VJP: through the tape, u^T silu'(x).
    const Tensor via_tape = vjp([](const Tensor& t) { return silu(t); }, x, u);
    BOOST_TEST(bits_equal(via_tape, silu_grad(x, u)));
    // JVP: silu'(x) v.
    const auto [y, tangent] = jvp([](const Tensor& t) { return silu(t); }, x, v);
    BOOST_TEST(bits_equal(y, silu(x)));
    BOOST_TEST(bits_equal(tangent, silu_grad(x, v)));
    // Forward-over-reverse, H v of sum(u * silu(x)): u silu''(x) v.
    const Tensor hv = hvp([&](const Tensor& t) { return sum(u * silu(t)); }, x, v);
    BOOST_TEST(bits_equal(hv, silu_grad2(x, u * v)));
  }
  // silu_grad's VJP (where silu_grad is a recorded op: reverse over forward through silu with
  // x off the tape, the gradient of a gradient) is one kernel pass in a plain backward pass: the
  // bits of its composed rule, g t silu''(x) and g silu'(x).
  for (DType dt : {DType::f32, DType::f64}) {
    Generator g(11);
    const Tensor x = randn({37, 5}, g, dt) * 4.0, t = randn({37, 5}, g, dt),
                 u = randn({37, 5}, g, dt);
    const Tensor d = 1.0 + exp(-x);
    const auto [y, grads] =
        vjp([&](const std::vector<Tensor>& p) { return silu_grad(p[0], p[1], d); }, {x, t}, u);
    BOOST_TEST(bits_equal(grads[0], silu_grad2(x, u * t, d)));
    BOOST_TEST(bits_equal(grads[1], silu_grad(x, u, d)));
  }
  // The residual is made only when the rules may run: recorded silu holds one more buffer of
  // x's size than silu under NoGrad (the denominator), which shows the path above is taken.
  {
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
    }
    BOOST_TEST(plain >= 64u * 8u * 4u);
    BOOST_TEST(recorded == 2 * plain);
  }
  // A denominator of the wrong shape is refused, naming both shapes.
  const Tensor x = zeros({3, 4});
  BOOST_CHECK_EXCEPTION(silu_grad(x, x, zeros({4})), std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return std::string(e.what()).find("[4]") != std::string::npos &&
                                 std::string(e.what()).find("[3, 4]") != std::string::npos;
                        });
}

// Reverse mode through a JVP of silu (the FDM loss at every SiLU layer): silu and its tangent
// are one tape node with a joint rule (OpDef::vjp_with_tangent), computed in one kernel pass
// each way. It must give the bits the separate nodes gave where x has no other use (as in an
// MLP; with another use, the tape sums x's cotangents in another order): x gets
// (gt dx) silu''(x) + g silu'(x) and dx gets gt silu'(x), for the cotangents g of silu(x) and
// gt of its tangent, also when only one of them is nonzero; and it records one node where
// silu's node and its JVP rule's ops made two.
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
        BOOST_TEST(bits_equal(y, silu(x)));
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

// The joint node's edges: x on the tape and its tangent not, or the reverse (then silu is not
// recorded and its JVP rule's op is); a gradient asked of the tangent itself (the walk keeps
// its adjoint); x with a second use, against finite differences; a jvp under a tape that
// tracks none of its inputs records nothing; and a JVP rule that hands back an input's tangent
// is refused (an op with a joint rule must return a new tensor).
BOOST_AUTO_TEST_CASE(silu_joint_node_edges) {
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
    BOOST_TEST(tape.num_nodes() - before == 1u);  // silu_grad, the tangent op
    BOOST_TEST(!tape.tracks(y));
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
  GradcheckOptions opt;
  opt.check_jvp = false;  // the function runs jvp itself
  check_gradients(
      "x silu(x) and its tangent",
      [&](auto& p) {
        const auto [y, t] = jvp([](const Tensor& z) { return z * silu(z); }, p[0], p[1]);
        return y * u + t * v;
      },
      {x, dx}, opt);
  {
    Tape tape;
    const Tensor w = scalar(1.0, DType::f64);
    tape.watch(w);
    const auto [y, t] = jvp([](const Tensor& z) { return silu(z); }, x, dx);
    BOOST_TEST(tape.num_nodes() == 0u);
    BOOST_TEST(bits_equal(y, silu(x)));
    BOOST_TEST(bits_equal(t, silu_grad(x, dx)));
  }
  {
    // identity's JVP rule returns its input's tangent; with a joint rule that is refused.
    static const OpDef kJointIdentity{
        "joint_identity",
        [](Inputs in, const Attrs&) { return in[0].shape(); },
        [](Inputs in, const Attrs&, Tensor& out) {
          std::memcpy(out.data<double>(), in[0].data<double>(),
                      static_cast<std::size_t>(in[0].numel()) * sizeof(double));
        },
        [](const Saved&, Inputs t) { return t[0]; },
        [](const Saved&, const Tensor& g, Grads& out) { out[0] = g; },
        /*aliases_input=*/false,
        nullptr,
        [](const Saved&, Inputs, const Tensor& g, const Tensor& gt, Grads& out) {
          out[0] = g;
          out[1] = gt;
        }};
    Tape tape;
    tape.watch(x);
    BOOST_CHECK_EXCEPTION(jvp([](const Tensor& z) { return apply(kJointIdentity, {z}); }, x, dx),
                          std::logic_error, [](const std::logic_error& e) {
                            return std::string(e.what()).find("joint_identity") !=
                                   std::string::npos;
                          });
  }
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

// linear_silu: the fused op's own rules (detail::linear_silu_op reaches its JVP rule, which
// linear_silu() leaves to the two ops), then the public function, in f64.
BOOST_AUTO_TEST_CASE(linear_silu_layer) {
  for (const auto& [m, k, n] : {std::array<std::int64_t, 3>{4, 3, 5}, {1, 2, 3}, {6, 5, 9}}) {
    const std::vector<Tensor> in = {normal({m, k}) * 2.0, normal({n, k}), normal({n})};
    check_gradients(
        "linear_silu op", [](auto& x) { return detail::linear_silu_op(x[0], x[1], x[2]); }, in);
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

// linear_silu gives the bits of linear then silu: the output with and without a tape, the
// gradients of a plain backward pass (which read z from the residual and sum the bias
// gradient in the pass that applies silu'), the JVP and Hessian-vector products (which
// recompute z), in f32 and f64, on 1 and 2 threads, at shapes under and over the kernels'
// threading threshold and with ragged widths.
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
          {
            NoGrad no_grad;
            BOOST_TEST(bits_equal(linear_silu(x, w, b), silu(linear(x, w, b))));
          }
          const auto [y_fused, grads_fused] = vjp(fused, {x, w, b}, u);
          const auto [y_plain, grads_plain] = vjp(plain, {x, w, b}, u);
          BOOST_TEST(bits_equal(y_fused, y_plain));
          for (std::size_t i = 0; i < 3; ++i)
            BOOST_TEST(bits_equal(grads_fused[i], grads_plain[i]));
          // The fused op's own JVP rule, and forward over reverse through both of its rules.
          const std::vector<Tensor> v = {randn({m, k}, g, dt), randn({n, k}, g, dt),
                                         randn({n}, g, dt)};
          const auto op = [](const std::vector<Tensor>& p) {
            return detail::linear_silu_op(p[0], p[1], p[2]);
          };
          BOOST_TEST(bits_equal(jvp(op, {x, w, b}, v).second, jvp(plain, {x, w, b}, v).second));
          const auto hv = [&](auto f) {
            return hvp([&](const Tensor& t) { return sum(u * f({t, w, b})); }, x, v[0]);
          };
          BOOST_TEST(bits_equal(hv(op), hv(plain)));
          // Forward over reverse where only the cotangent carries a tangent: the weight
          // gradient of sum(layer(x) * c), differentiated along c. The layer's inputs carry
          // none, so the fused op runs, and its VJP must see the tangent on g.
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
      return grad([&](const Tensor& z) { return sum(op(z) * w); }, xs[0]);
    };
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
        return detail::linear_silu_op(x, tanh(matmul(x, x, true, false)), sum(x, 0));
      },
      normal(s));
  second("where/relu", [](const Tensor& x) { return relu(x) * x; }, away_from_zero(s));
}

BOOST_AUTO_TEST_SUITE_END()
