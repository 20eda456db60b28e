// SPDX-License-Identifier: MIT
// Layers: parameter names and state_dict, PyTorch's Linear init, LayerNorm and the time
// embeddings against finite differences, the VelocityMLP's time forms and std::function view.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>
#include <numbers>

#include "flowtape/nn/nn.hpp"
#include "support/gradcheck.hpp"

using namespace flowtape;
using namespace flowtape::nn;
using flowtape::test::check_gradients;
using flowtape::test::GradcheckOptions;

namespace {

bool message_has(const std::exception& e, const std::string& part) {
  const bool ok = std::string(e.what()).find(part) != std::string::npos;
  if (!ok) BOOST_TEST_MESSAGE("message was: " << e.what());
  return ok;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(layers)

BOOST_AUTO_TEST_CASE(hierarchical_parameter_names) {
  Generator gen(0);
  MLP mlp({2, 8, 8, 3}, gen);
  std::vector<std::string> names;
  for (const auto& [name, t] : mlp.named_parameters()) names.push_back(name);
  const std::vector<std::string> want = {"layers.0.weight", "layers.0.bias",   "layers.1.weight",
                                         "layers.1.bias",   "layers.2.weight", "layers.2.bias"};
  BOOST_TEST(names == want, boost::test_tools::per_element());
  BOOST_TEST(mlp.named_parameters()[0].second.shape() == (Shape{8, 2}));  // [out, in]
  BOOST_TEST(mlp.num_parameters() == 8 * 2 + 8 + 8 * 8 + 8 + 3 * 8 + 3);

  VelocityMLPOptions o;
  o.time_embedding = TimeEmbeddingKind::fourier;
  o.time_dim = 8;
  o.residual = true;
  VelocityMLP v(2, 16, 2, gen, o);
  const auto buffers = v.named_buffers();
  BOOST_TEST_REQUIRE(buffers.size() == 1u);
  BOOST_TEST(buffers[0].first == "time_embedding.freqs");  // a buffer, not a parameter
  const auto params = v.named_parameters();
  BOOST_TEST(params[0].first == "input.weight");
  BOOST_TEST(params[2].first == "blocks.0.norm.weight");
  BOOST_TEST(params.back().first == "output.bias");
  BOOST_TEST(v.state_dict().size() == params.size() + 1);
}

namespace {
// A module that registers what the test asks it to.
struct Registering : Module {
  void parameter(const std::string& name) { register_parameter(name, zeros({1})); }
  void child(const std::string& name, std::shared_ptr<Module> m) { register_module(name, m); }
};
}  // namespace

// Names are checked where they are registered, and widths before any layer is built.
BOOST_AUTO_TEST_CASE(registration_and_sizes_are_checked) {
  Registering m;
  m.parameter("w");
  BOOST_CHECK_THROW(m.parameter("w"), std::invalid_argument);
  BOOST_CHECK_THROW(m.parameter(""), std::invalid_argument);
  BOOST_CHECK_THROW(m.child("w", std::make_shared<Registering>()), std::invalid_argument);
  BOOST_CHECK_THROW(m.child("c", nullptr), std::invalid_argument);
  // A parameter named like a child's parameter: two tensors with one name, refused on load.
  auto child = std::make_shared<Registering>();
  child->parameter("b");
  m.child("a", child);
  m.parameter("a.b");
  BOOST_CHECK_THROW(m.load_state_dict(m.state_dict()), std::logic_error);

  // One child under two names (a tied weight): its parameter is listed, saved and counted
  // once, under the first name, so an optimizer updates it once a step.
  Registering tied;
  auto shared = std::make_shared<Registering>();
  shared->parameter("w");
  tied.child("encoder", shared);
  tied.child("decoder", shared);
  BOOST_TEST(tied.named_parameters().size() == 1u);
  BOOST_TEST(tied.named_parameters()[0].first == "encoder.w");
  BOOST_TEST(tied.num_parameters() == 1);
  BOOST_CHECK_NO_THROW(Adam(tied.parameters(), AdamOptions{}));
  BOOST_CHECK_NO_THROW(tied.load_state_dict(tied.state_dict()));
  // A state saved before, with the tensor under both names, still loads (the alias unread).
  NamedTensors older = tied.state_dict();
  older.emplace_back("decoder.w", copy(older[0].second));
  BOOST_CHECK_NO_THROW(tied.load_state_dict(older));
  older.emplace_back("stranger.w", copy(older[0].second));
  BOOST_CHECK_THROW(tied.load_state_dict(older), std::invalid_argument);
  Generator gen(0), untouched(0);
  const double before = gen.uniform();
  BOOST_CHECK_THROW(MLP({2, 8, 0}, untouched), std::invalid_argument);
  BOOST_TEST(untouched.uniform() == before);  // nothing drawn before the refusal
  BOOST_CHECK_THROW(SinusoidalEmbedding(8, 0.0), std::invalid_argument);
  BOOST_CHECK_THROW(FourierEmbedding(8, gen, std::nan("")), std::invalid_argument);
  // One sample as a vector: a batch of one, the same values.
  const Linear lin(3, 2, gen);
  const Tensor x = from_vector(std::vector<double>{1, 2, 3}, Shape{3});
  BOOST_TEST(lin(x).shape() == (Shape{2}));
  BOOST_TEST(lin(x).to_vector() == lin(reshape(x, {1, 3})).to_vector());
  BOOST_CHECK_THROW(constant_lr(std::nan("")), std::invalid_argument);
  BOOST_CHECK_THROW(cosine_decay(1e-3, 10, 0, -1e-4), std::invalid_argument);
}

// PyTorch: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)).
BOOST_AUTO_TEST_CASE(linear_init_matches_pytorch_bounds) {
  Generator gen(3);
  const std::int64_t in = 100, out = 200;
  Linear lin(in, out, gen);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  const auto w = lin.weight.to_vector();
  double lo = 1, hi = -1, s = 0, s2 = 0;
  for (double x : w) {
    lo = std::min(lo, x), hi = std::max(hi, x);
    s += x, s2 += x * x;
  }
  const double n = static_cast<double>(w.size());
  const double mean = s / n, var = s2 / n - mean * mean;
  BOOST_TEST(lo >= -bound);
  BOOST_TEST(hi <= bound);
  BOOST_TEST(hi > 0.99 * bound);  // uses the whole range
  BOOST_TEST(lo < -0.99 * bound);
  BOOST_TEST(std::abs(mean) < 4 * std::sqrt(bound * bound / 3 / n));
  BOOST_TEST(std::abs(var / (bound * bound / 3) - 1) < 0.04);  // U(-b, b) has variance b^2/3
  for (double b : lin.bias.to_vector()) BOOST_TEST((b >= -bound && b <= bound));
  BOOST_TEST(lin.bias.shape() == (Shape{out}));
  Linear no_bias(4, 5, gen, false);
  BOOST_TEST(no_bias.parameters().size() == 1u);
}

BOOST_AUTO_TEST_CASE(linear_forward_is_x_wt_plus_b) {
  Generator gen(1);
  Linear lin(3, 2, gen, true, DType::f64);
  const Tensor x = randn({4, 3}, gen, DType::f64);
  const auto y = lin(x).to_vector(), xv = x.to_vector(), w = lin.weight.to_vector(),
             b = lin.bias.to_vector();
  for (int r = 0; r < 4; ++r)
    for (int o = 0; o < 2; ++o) {
      double want = b[o];
      for (int i = 0; i < 3; ++i) want += xv[r * 3 + i] * w[o * 3 + i];
      BOOST_TEST(std::abs(y[r * 2 + o] - want) < 1e-14);
    }
  BOOST_CHECK_EXCEPTION(lin(randn({4, 5}, gen, DType::f64)), std::invalid_argument,
                        [](const std::exception& e) { return message_has(e, "in_features=3"); });
}

BOOST_AUTO_TEST_CASE(layer_norm_values_and_gradients) {
  Generator gen(5);
  LayerNorm ln(6, 1e-5, DType::f64);
  const Tensor x = randn({4, 6}, gen, DType::f64) * 3.0 + 1.0;
  const auto y = ln(x).to_vector();
  for (int r = 0; r < 4; ++r) {  // unit gain, zero bias: each row has mean 0 and variance ~1
    double m = 0, v = 0;
    for (int i = 0; i < 6; ++i) m += y[r * 6 + i] / 6;
    for (int i = 0; i < 6; ++i) v += (y[r * 6 + i] - m) * (y[r * 6 + i] - m) / 6;
    BOOST_TEST(std::abs(m) < 1e-12);
    BOOST_TEST(std::abs(v - 1) < 1e-4);
  }
  // Gradients w.r.t. input, gain and bias through the layer's own forward.
  const Tensor gain = randn({6}, gen, DType::f64), bias = randn({6}, gen, DType::f64);
  check_gradients("LayerNorm",
                  [&](const std::vector<Tensor>& xs) {
                    LayerNorm l(6, 1e-5, DType::f64);
                    l.gain = xs[1];
                    l.bias = xs[2];
                    return l(xs[0]);
                  },
                  {x, gain, bias});
}

BOOST_AUTO_TEST_CASE(time_embedding_gradients) {
  Generator gen(9);
  const Tensor t = rand({5}, gen, DType::f64);
  // scale 1 keeps the finite differences accurate; the structure is the same at any scale.
  SinusoidalEmbedding sin_emb(8, 10000.0, 1.0, DType::f64);
  check_gradients("sinusoidal", [&](const std::vector<Tensor>& xs) { return sin_emb(xs[0]); }, {t});
  FourierEmbedding fourier(8, gen, 2.0, DType::f64);
  check_gradients("fourier", [&](const std::vector<Tensor>& xs) { return fourier(xs[0]); }, {t});
  // One time for the whole batch: the gradient sums over the broadcast.
  check_gradients("fourier, broadcast t",
                  [&](const std::vector<Tensor>& xs) { return fourier(xs[0], 3); },
                  {scalar(0.3, DType::f64)});

  const auto e = sin_emb(scalar(0.0, DType::f64), 2).to_vector();  // [cos 0..., sin 0...]
  for (int i = 0; i < 4; ++i) BOOST_TEST(e[i] == 1.0);
  for (int i = 4; i < 8; ++i) BOOST_TEST(e[i] == 0.0);
  // The frequencies, at a time where they show: f_k = max_period^(-k / half), half = 4, and
  // the time scaled by s (here 3 with max_period 100, so every angle is distinct and < 2 pi).
  SinusoidalEmbedding scaled(8, 100.0, 3.0, DType::f64);
  const double t1 = 0.7;
  const auto v = scaled(scalar(t1, DType::f64), 1).to_vector();
  for (int k = 0; k < 4; ++k) {
    const double angle = 3.0 * t1 * std::pow(100.0, -k / 4.0);
    BOOST_TEST(std::abs(v[k] - std::cos(angle)) < 1e-14, "cos, k = " << k);
    BOOST_TEST(std::abs(v[4 + k] - std::sin(angle)) < 1e-14, "sin, k = " << k);
  }
  BOOST_CHECK_THROW(SinusoidalEmbedding(7), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(velocity_mlp_time_forms_and_function_view) {
  Generator gen(2);
  VelocityMLP v(3, 16, 2, gen);
  const Tensor x = randn({5, 3}, gen);
  const Tensor y_vec = v(x, full({5}, 0.25));
  BOOST_TEST(y_vec.shape() == (Shape{5, 3}));
  const auto a = y_vec.to_vector();
  BOOST_TEST(v(x, full({5, 1}, 0.25)).to_vector() == a, boost::test_tools::per_element());
  BOOST_TEST(v(x, scalar(0.25)).to_vector() == a, boost::test_tools::per_element());
  BOOST_TEST(v(x, scalar(0.25, DType::f64)).to_vector() == a, boost::test_tools::per_element());
  BOOST_CHECK_EXCEPTION(v(x, full({4}, 0.25)), std::invalid_argument,
                        [](const std::exception& e) { return message_has(e, "B = 5"); });

  // The std::function shares the weights: a change to the model shows through it.
  std::function<Tensor(const Tensor&, const Tensor&)> f = v;
  BOOST_TEST(f(x, scalar(0.25)).to_vector() == a, boost::test_tools::per_element());
  Tensor w = v.parameters().back();
  w.mutable_data<float>()[0] += 1.0f;  // the output bias of coordinate 0
  BOOST_TEST(std::abs(f(x, scalar(0.25)).at(0) - (a[0] + 1.0)) < 1e-5);
}

// The flows differentiate the model in x both ways (reverse for training, forward for
// divergences): check both through a residual VelocityMLP (LayerNorm, blocks, Fourier time).
BOOST_AUTO_TEST_CASE(residual_velocity_mlp_gradients_in_x) {
  Generator gen(4);
  VelocityMLPOptions o;
  o.residual = true;
  o.time_embedding = TimeEmbeddingKind::fourier;
  o.time_dim = 4;
  o.dtype = DType::f64;
  VelocityMLP v(2, 8, 2, gen, o);
  const Tensor x = randn({3, 2}, gen, DType::f64), t = rand({3}, gen, DType::f64);
  check_gradients("VelocityMLP(x, t)",
                  [&](const std::vector<Tensor>& xs) { return v(xs[0], xs[1]); }, {x, t});
}

BOOST_AUTO_TEST_CASE(activations) {
  const Tensor x = from_vector(std::vector<double>{-2, -0.5, 0, 0.5, 2}, {5}, DType::f64);
  for (auto a : {Activation::relu, Activation::silu, Activation::tanh, Activation::gelu,
                 Activation::softplus, Activation::identity})
    BOOST_TEST((activation_from_name(activation_name(a)) == a));
  const auto g = gelu(x).to_vector();
  const auto xv = x.to_vector();
  for (int i = 0; i < 5; ++i) {
    const double z = xv[i];
    const double want =
        0.5 * z * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (z + 0.044715 * z * z * z)));
    BOOST_TEST(std::abs(g[i] - want) < 1e-15);
  }
  check_gradients("gelu", [](const std::vector<Tensor>& xs) { return gelu(xs[0]); }, {x});
  BOOST_CHECK_EXCEPTION(activation_from_name("elu"), std::invalid_argument,
                        [](const std::exception& e) { return message_has(e, "'elu'"); });
}

BOOST_AUTO_TEST_CASE(state_dict_copies_and_validates) {
  Generator g1(1), g2(2);
  MLP a({2, 4, 1}, g1), b({2, 4, 1}, g2);
  const NamedTensors sa = a.state_dict();
  b.load_state_dict(sa);
  for (std::size_t i = 0; i < sa.size(); ++i)
    BOOST_TEST(b.parameters()[i].to_vector() == sa[i].second.to_vector(),
               boost::test_tools::per_element());
  // state_dict() is a deep copy: changing the model later does not change it.
  a.parameters()[0].mutable_data<float>()[0] += 1.0f;
  BOOST_TEST(sa[0].second.at(0) != a.parameters()[0].at(0));

  MLP wide({2, 5, 1}, g1);
  BOOST_CHECK_EXCEPTION(
      wide.load_state_dict(sa), std::invalid_argument, [](const std::exception& e) {
        return message_has(e, "'layers.0.weight' has shape [4, 2] but the model expects [5, 2]");
      });
  NamedTensors extra = sa;
  extra.emplace_back("layers.9.weight", zeros({1}));
  BOOST_CHECK_EXCEPTION(b.load_state_dict(extra), std::invalid_argument,
                        [](const std::exception& e) {
                          return message_has(e, "unexpected tensor 'layers.9.weight'");
                        });
  NamedTensors missing(sa.begin() + 1, sa.end());
  BOOST_CHECK_EXCEPTION(
      b.load_state_dict(missing), std::invalid_argument,
      [](const std::exception& e) { return message_has(e, "missing tensor 'layers.0.weight'"); });
}

BOOST_AUTO_TEST_SUITE_END()
