// SPDX-License-Identifier: MIT
// End-to-end training with the nn layer: a seeded regression fit, and bit-identical runs from
// the same seed.
#include <boost/test/unit_test.hpp>
#include <cstring>

#include "flowtape/nn/nn.hpp"

using namespace flowtape;
using namespace flowtape::nn;

namespace {

VelocityMLP regression_model(std::uint64_t seed) {
  Generator gen(seed);
  VelocityMLPOptions o;
  o.time_embedding = TimeEmbeddingKind::raw;
  o.activation = Activation::tanh;
  return VelocityMLP(1, 32, 2, gen, o);
}

// Mini-batch Adam with a cosine schedule and clipping on v(x, 0.5) ~ sin(3x), x ~ U[-1, 1].
double fit_sin(VelocityMLP& model, std::uint64_t seed, int steps) {
  Generator gen(seed);
  const std::vector<Tensor> params = model.parameters();
  Adam opt(params, AdamOptions{1e-2});
  const Schedule lr = cosine_decay(1e-2, steps, 50, 1e-4);
  const Tensor t = scalar(0.5);
  double loss_value = 0;
  for (int step = 0; step < steps; ++step) {
    const Tensor x = uniform({64, 1}, -1.0, 1.0, gen);
    const Tensor y = sin(3.0 * x);
    auto [loss, grads] = loss_and_grad(params, [&] { return mean(square(model(x, t) - y)); });
    clip_grad_norm(grads, 1.0);
    opt.set_lr(lr(opt.steps()));
    opt.step(grads);
    loss_value = loss.item();
  }
  return loss_value;
}

double grid_mse(const VelocityMLP& model) {
  NoGrad no_grad;
  const Tensor x = reshape(arange(-1.0, 1.0 + 1e-9, 2.0 / 200), {-1, 1});
  return mean(square(model(x, scalar(0.5)) - sin(3.0 * x))).item();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(training)

BOOST_AUTO_TEST_CASE(velocity_mlp_fits_sin_3x) {
  VelocityMLP model = regression_model(0);
  const double before = grid_mse(model);
  fit_sin(model, 1, 1500);
  const double after = grid_mse(model);
  BOOST_TEST_MESSAGE("sin(3x) fit: grid MSE " << before << " -> " << after);
  BOOST_TEST(before > 0.1);
  BOOST_TEST(after < 1e-3);
}

BOOST_AUTO_TEST_CASE(same_seed_same_weights) {
  VelocityMLP a = regression_model(5), b = regression_model(5), c = regression_model(6);
  fit_sin(a, 9, 200);
  fit_sin(b, 9, 200);
  fit_sin(c, 9, 200);
  const auto pa = a.parameters(), pb = b.parameters(), pc = c.parameters();
  bool same = true, differs = false;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    const std::size_t bytes = static_cast<std::size_t>(pa[i].numel()) * sizeof(float);
    same = same && std::memcmp(pa[i].raw_data(), pb[i].raw_data(), bytes) == 0;
    differs = differs || std::memcmp(pa[i].raw_data(), pc[i].raw_data(), bytes) != 0;
  }
  BOOST_TEST(same);     // bit-identical after 200 steps
  BOOST_TEST(differs);  // and the seed matters
}

BOOST_AUTO_TEST_SUITE_END()
