// SPDX-License-Identifier: MIT
// Mixed-mode derivatives: reverse-over-forward (the divergence losses), forward-over-reverse
// and reverse-over-reverse Hessian-vector products, and exact divergences from JVPs.
#include <boost/test/unit_test.hpp>

#include "support/gradcheck.hpp"

using namespace flowtape;
using flowtape::test::check_gradients;
using flowtape::test::rel_error;

namespace {

// f(x) = W2 tanh(W1 x + b1) + b2 on a batch of rows x [n, 2]: R^2 -> R^2.
Tensor mlp(const Tensor& x, const std::vector<Tensor>& p) {
  return matmul(tanh(matmul(x, p[0]) + p[1]), p[2]) + p[3];
}

std::vector<Tensor> mlp_params(Generator& g) {
  return {randn({2, 8}, g, DType::f64), randn({8}, g, DType::f64), randn({8, 2}, g, DType::f64) * 0.5,
          randn({2}, g, DType::f64)};
}

// The Jacobian of one sample of f by central differences (2 x 2).
std::vector<double> fd_jacobian(const Tensor& x1, const std::vector<Tensor>& p) {
  std::vector<double> J(4);
  const double h = 1e-6;
  for (int j = 0; j < 2; ++j) {
    Tensor e = zeros({1, 2}, DType::f64);
    e.mutable_data<double>()[j] = 1.0;
    const auto fp = mlp(x1 + e * h, p).to_vector(), fm = mlp(x1 - e * h, p).to_vector();
    for (int i = 0; i < 2; ++i) J[static_cast<std::size_t>(i * 2 + j)] = (fp[static_cast<std::size_t>(i)] - fm[static_cast<std::size_t>(i)]) / (2 * h);
  }
  return J;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(higher_order)

// L = (eps^T J_x f(x) eps)^2 with a Hutchinson probe eps, differentiated w.r.t. the weights:
// reverse mode through a JVP, against finite differences in the weights.
BOOST_AUTO_TEST_CASE(reverse_over_forward_hutchinson_loss) {
  Generator g(7);
  const auto params = mlp_params(g);
  const Tensor x = randn({1, 2}, g, DType::f64);
  const Tensor eps = randn({1, 2}, g, DType::f64);
  Function loss = [&](const std::vector<Tensor>& p) {
    const Tensor jv = jvp([&](const Tensor& z) { return mlp(z, p); }, x, eps).second;
    return square(sum(eps * jv));
  };
  // (check_gradients' JVP check nests a jvp around the function's own.)
  check_gradients("(eps^T J eps)^2 w.r.t. weights", loss, params);

  // And the same loss with the Jacobian from finite differences, as a value check.
  const auto J = fd_jacobian(x, params);
  const auto e = eps.to_vector();
  double quad = 0;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) quad += e[static_cast<std::size_t>(i)] * J[static_cast<std::size_t>(i * 2 + j)] * e[static_cast<std::size_t>(j)];
  BOOST_TEST(std::abs(loss(params).item() - quad * quad) < 1e-7 * std::max(1.0, quad * quad));
}

// The same loss for a SiLU network, plus a value term: its backward pass meets silu and its
// tangent as one node (silu_with_tangent) with both cotangents nonzero. Against finite
// differences in the weights; and reverse-over-reverse through that node (create_graph, where
// its rule is composed of differentiable ops) against finite differences of the gradient.
BOOST_AUTO_TEST_CASE(reverse_over_forward_through_silu) {
  Generator g(17);
  const auto params = mlp_params(g);
  const Tensor x = randn({3, 2}, g, DType::f64);
  const Tensor eps = randn({3, 2}, g, DType::f64);
  auto silu_mlp = [](const Tensor& z, const std::vector<Tensor>& p) {
    return matmul(silu(matmul(z, p[0]) + p[1]), p[2]) + p[3];
  };
  Function loss = [&](const std::vector<Tensor>& p) {
    const auto [y, jv] = jvp([&](const Tensor& z) { return silu_mlp(z, p); }, x, eps);
    return square(sum(eps * jv)) + 0.5 * sum(y * y);
  };
  check_gradients("silu network: (eps^T J eps)^2 + |f|^2 / 2 w.r.t. weights", loss, params);

  // H r for a direction r in the weights: reverse over reverse over forward.
  std::vector<Tensor> r;
  for (const Tensor& p : params) r.push_back(randn(p.shape(), g, DType::f64));
  std::vector<double> hr;
  {
    Tape tape;
    tape.watch(params);
    GradientOptions o;
    o.create_graph = true;
    const auto gw = tape.gradient(loss(params), params, o);
    Tensor gr = scalar(0.0, DType::f64);
    for (std::size_t i = 0; i < params.size(); ++i) gr = gr + sum(gw[i] * r[i]);
    for (const Tensor& h : tape.gradient(gr, params))
      for (double value : h.to_vector()) hr.push_back(value);
  }
  const double h = 1e-5;
  std::vector<Tensor> plus, minus;
  for (std::size_t i = 0; i < params.size(); ++i) {
    plus.push_back(params[i] + r[i] * h);
    minus.push_back(params[i] - r[i] * h);
  }
  const auto gp = grad(loss, plus), gm = grad(loss, minus);
  std::vector<double> fd;
  for (std::size_t i = 0; i < params.size(); ++i)
    for (double value : ((gp[i] - gm[i]) * (1.0 / (2 * h))).to_vector()) fd.push_back(value);
  BOOST_TEST(rel_error(hr, fd) < 1e-6);
}

// The exact divergence of f: R^2 -> R^2 from two JVPs (one per basis vector) equals the trace
// of the finite-difference Jacobian, for a batch of points at once.
BOOST_AUTO_TEST_CASE(exact_divergence_from_jvps) {
  Generator g(11);
  const auto params = mlp_params(g);
  const Tensor x = randn({5, 2}, g, DType::f64);
  Tensor div = zeros({5}, DType::f64);
  for (int j = 0; j < 2; ++j) {
    Tensor e = zeros({5, 2}, DType::f64);
    for (int n = 0; n < 5; ++n) e.mutable_data<double>()[n * 2 + j] = 1.0;
    const Tensor jv = jvp([&](const Tensor& z) { return mlp(z, params); }, x, e).second;
    div = div + reshape(slice(jv, 1, j, j + 1), {5});  // (J e_j)_j, summed over j
  }
  for (int n = 0; n < 5; ++n) {
    const auto J = fd_jacobian(slice(x, 0, n, n + 1), params);
    BOOST_TEST(std::abs(div.at(n) - (J[0] + J[3])) < 1e-7, "point " << n);
  }
}

// H v of a scalar function: forward-over-reverse (hvp), reverse-over-reverse (grad of
// <grad f, v> on a tape), and finite differences of the gradient all agree.
BOOST_AUTO_TEST_CASE(hessian_vector_product) {
  Generator g(3);
  const Tensor A = randn({4, 4}, g, DType::f64);
  const Tensor x = randn({4}, g, DType::f64);
  const Tensor v = randn({4}, g, DType::f64);
  Function1 f = [&](const Tensor& z) {
    return sum(softplus(matmul(A, reshape(z, {4, 1})))) + sum(sin(z) * z * z);
  };
  const Tensor hv_fwd = hvp(f, x, v);

  Tensor hv_rev;
  {
    Tape tape;
    tape.watch(x);
    const Tensor gx = grad(f, x);  // recorded on the tape (create_graph)
    hv_rev = tape.gradient(sum(gx * v), {x})[0];
  }
  const double h = 1e-6;
  const Tensor fd = (grad(f, x + v * h) - grad(f, x - v * h)) * (1.0 / (2 * h));
  BOOST_TEST(rel_error(hv_fwd.to_vector(), fd.to_vector()) < 1e-6);
  BOOST_TEST(rel_error(hv_rev.to_vector(), hv_fwd.to_vector()) < 1e-12);
}

BOOST_AUTO_TEST_CASE(create_graph_option) {
  const Tensor x = scalar(0.7, DType::f64);
  Tape tape;
  tape.watch(x);
  const Tensor y = pow(x, 4.0);
  GradientOptions o;
  o.create_graph = true;
  const Tensor dy = tape.gradient(y, {x}, o)[0];     // 4 x^3
  const Tensor d2y = tape.gradient(dy, {x}, o)[0];   // 12 x^2
  const Tensor d3y = tape.gradient(d2y, {x})[0];     // 24 x
  BOOST_TEST(std::abs(dy.item() - 4 * 0.343) < 1e-12);
  BOOST_TEST(std::abs(d2y.item() - 12 * 0.49) < 1e-12);
  BOOST_TEST(std::abs(d3y.item() - 24 * 0.7) < 1e-12);
}

BOOST_AUTO_TEST_CASE(jvp_through_a_tape_keeps_primal_gradients) {
  // d/dw of [f(w x) + (J_x f) v] where f = tanh: both the primal and the tangent paths count.
  const Tensor x = scalar(0.3, DType::f64), v = scalar(1.0, DType::f64), w = scalar(1.7, DType::f64);
  Tape tape;
  tape.watch(w);
  const auto [y, jv] = jvp([&](const Tensor& z) { return tanh(w * z); }, x, v);
  const Tensor dw = tape.gradient(y + jv, {w})[0];
  // y = tanh(w x), jv = w (1 - tanh^2(w x)) v
  const double t = std::tanh(1.7 * 0.3), s = 1 - t * t;
  const double expect = 0.3 * s + s + 1.7 * (-2 * t * s * 0.3);
  BOOST_TEST(std::abs(dw.item() - expect) < 1e-12);
}

// Forward over forward: jvp nests. J(x) v of a tanh and of a SiLU network, as a function of
// the input and the weights, checked in both modes against finite differences of that JVP
// (the JVP check puts a second jvp around the function's own); the second directional
// derivative jvp(jvp(f, ., v), x, u) = d2f[u, v] against central differences of f; and three
// levels: the third derivative of a cubic.
// A tensor computed inside a jvp() that has returned keeps no live tangent: captured into a
// later jvp() at the same depth it is a constant (its old tangent once leaked into dy), and so
// is one computed in a sibling jvp() nested in the same outer one.
BOOST_AUTO_TEST_CASE(tangents_of_finished_jvps_are_not_live) {
  const Tensor x = from_vector(std::vector<double>{0.5, -1.0}, Shape{2}, DType::f64);
  const Tensor v = from_vector(std::vector<double>{1.0, 2.0}, Shape{2}, DType::f64);
  const Tensor x2 = from_vector(std::vector<double>{3.0, 4.0}, Shape{2}, DType::f64);
  const Tensor v2 = from_vector(std::vector<double>{0.25, 0.5}, Shape{2}, DType::f64);
  Tensor h;
  jvp([&](const Tensor& z) { return h = exp(z); }, x, v);
  const auto [y, dy] = jvp([&](const Tensor& z) { return z * h; }, x2, v2);
  const std::vector<double> want = (v2 * h).to_vector();
  BOOST_TEST(dy.to_vector() == want, boost::test_tools::per_element());
  // Siblings inside one outer jvp().
  jvp(
      [&](const Tensor& outer) {
        Tensor g;
        jvp([&](const Tensor& z) { return g = sin(z); }, x, v);
        const auto [value, d] = jvp([&](const Tensor& z) { return z * g; }, x2, v2);
        const std::vector<double> expected = (v2 * g).to_vector();
        BOOST_TEST(d.to_vector() == expected, boost::test_tools::per_element());
        return outer;
      },
      x, v);
}

BOOST_AUTO_TEST_CASE(forward_over_forward) {
  Generator g(21);
  const auto params = mlp_params(g);
  const Tensor x = randn({3, 2}, g, DType::f64), v = randn({3, 2}, g, DType::f64),
               u = randn({3, 2}, g, DType::f64);
  auto silu_mlp = [](const Tensor& z, const std::vector<Tensor>& p) {
    return linear(silu(linear(z, transpose(p[0]), p[1])), transpose(p[2]), p[3]);
  };
  std::vector<Tensor> inputs = {x};
  inputs.insert(inputs.end(), params.begin(), params.end());
  for (const bool use_silu : {false, true}) {
    const Function jv = [&, use_silu](const std::vector<Tensor>& a) {
      const std::vector<Tensor> p(a.begin() + 1, a.end());
      return jvp([&](const Tensor& z) { return use_silu ? silu_mlp(z, p) : mlp(z, p); }, a[0], v)
          .second;
    };
    check_gradients(use_silu ? "J v of a SiLU MLP" : "J v of a tanh MLP", jv, inputs);

    const auto f = [&](const Tensor& z) { return use_silu ? silu_mlp(z, params) : mlp(z, params); };
    const Tensor d2 = jvp([&](const Tensor& z) { return jvp(f, z, v).second; }, x, u).second;
    const double h = 1e-4;
    const Tensor fd = (f(x + u * h + v * h) - f(x + u * h - v * h) - f(x - u * h + v * h) +
                       f(x - u * h - v * h)) *
                      (1.0 / (4 * h * h));
    BOOST_TEST(rel_error(d2.to_vector(), fd.to_vector()) < 1e-6);
  }
  const Tensor z = scalar(1.5, DType::f64), one = scalar(1.0, DType::f64);
  const auto d = [&](const Function1& fn) {
    return [&, fn](const Tensor& q) { return jvp(fn, q, one).second; };
  };
  const Function1 cube = [](const Tensor& q) { return q * q * q; };
  BOOST_TEST(d(d(d(cube)))(z).item() == 6.0);
}

// Functions of several outputs: jvp gives each output's tangent, vjp takes a cotangent per
// output, each against the single-output verbs on each output; hvp over several inputs
// against finite differences of the gradient.
BOOST_AUTO_TEST_CASE(several_outputs_and_inputs) {
  Generator g(31);
  const auto params = mlp_params(g);
  const Tensor x = randn({3, 2}, g, DType::f64), v = randn({3, 2}, g, DType::f64);
  const FunctionN two = [&](const std::vector<Tensor>& a) {
    const Tensor y = mlp(a[0], params);
    return std::vector<Tensor>{y, sum(y * y, 1, false)};
  };
  const auto [ys, dys] = jvp(two, {x}, {v});
  BOOST_TEST(ys.size() == 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const Function only = [&, i](const std::vector<Tensor>& a) { return two(a)[i]; };
    const auto [y1, dy1] = jvp(only, {x}, {v});
    BOOST_TEST(rel_error(ys[i].to_vector(), y1.to_vector()) == 0.0);
    BOOST_TEST(rel_error(dys[i].to_vector(), dy1.to_vector()) < 1e-14);
  }
  const Tensor u0 = randn({3, 2}, g, DType::f64), u1 = randn({3}, g, DType::f64);
  const auto [ys2, grads] = vjp(two, {x}, {u0, u1});
  const Tensor expected =
      vjp([&](const std::vector<Tensor>& a) { return two(a)[0]; }, {x}, u0).second[0] +
      vjp([&](const std::vector<Tensor>& a) { return two(a)[1]; }, {x}, u1).second[0];
  BOOST_TEST(rel_error(grads[0].to_vector(), expected.to_vector()) < 1e-14);
  BOOST_CHECK_THROW(vjp(two, {x}, {u0}), std::invalid_argument);

  // H v over (x, W1): f = sum(mlp(x; W1)^2), blocks against differences of the gradient.
  const Function f = [&](const std::vector<Tensor>& a) {
    return sum(square(mlp(a[0], {a[1], params[1], params[2], params[3]})));
  };
  const std::vector<Tensor> at = {x, params[0]};
  const std::vector<Tensor> dir = {v, randn(params[0].shape(), g, DType::f64)};
  const std::vector<Tensor> hv = hvp(f, at, dir);
  const double h = 1e-6;
  const auto shifted = [&](double s) { return grad(f, {x + dir[0] * s, params[0] + dir[1] * s}); };
  const auto gp = shifted(h), gm = shifted(-h);
  for (std::size_t i = 0; i < 2; ++i)
    BOOST_TEST(rel_error(hv[i].to_vector(), ((gp[i] - gm[i]) * (0.5 / h)).to_vector()) < 1e-6);
}

BOOST_AUTO_TEST_SUITE_END()
