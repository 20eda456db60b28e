// SPDX-License-Identifier: MIT
// End-to-end: a short seeded CFM training of a VelocityMLP on 8 Gaussians brings the samples'
// MMD to the data below a threshold that the untrained model fails; the same for the
// risk-entropic loss at a small lambda and for FDM, so each objective is shown to train. And
// a training step's results do not depend on the thread count.
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "flowtape/flows/datasets.hpp"
#include "flowtape/flows/losses.hpp"
#include "flowtape/flows/metrics.hpp"
#include "flowtape/flows/sample.hpp"
#include "flowtape/nn/nn.hpp"
#include "support/threads.hpp"

using namespace flowtape;
using namespace flowtape::flows;

namespace {

double sample_mmd(const VelocityField& v, const Dataset& ds, Generator& gen) {
  NoGrad no_grad;
  SampleOptions o;
  o.solver.rtol = o.solver.atol = 1e-4;
  const Tensor x = sample(v, randn({600, 2}, gen), o).x;
  return mmd_rbf(x, ds.sample(600, gen));
}

// Trains with `loss_of(model, x0, x1, t)` for `steps` and returns (MMD before, MMD after).
template <class LossOf>
std::pair<double, double> train(LossOf loss_of, int steps) {
  Generator gen(42);
  const EightGaussians data;
  nn::VelocityMLP model(2, 64, 2, gen, {.time_embedding = nn::TimeEmbeddingKind::raw});
  nn::Adam opt(model.parameters(), {.lr = 3e-3});
  Generator eval_gen(7);
  const double before = sample_mmd(model, data, eval_gen);
  for (int step = 0; step < steps; ++step) {
    const Tensor x1 = data.sample(256, gen), x0 = randn({256, 2}, gen), t = rand({256, 1}, gen);
    auto [loss, grads] =
        nn::loss_and_grad(model.parameters(), [&] { return loss_of(model, x0, x1, t, gen); });
    opt.step(grads);
  }
  Generator eval_gen2(7);
  return {before, sample_mmd(model, data, eval_gen2)};
}

// The parameters after `steps` steps of `loss` ("cfm", "entropic" or "fdm") on `threads`
// threads, flattened: width 64, 3 hidden layers, batch 2048, so that every kernel of the step
// that can go parallel does (layer GEMMs of 2^23 multiply-adds, maps and the fused SiLU
// backward over 2^17 elements).
std::vector<float> params_after(const std::string& loss, int threads, int steps) {
  const test::ScopedThreads scope(threads);
  Generator gen(11);
  const EightGaussians data;
  nn::VelocityMLP model(2, 64, 3, gen, {.time_embedding = nn::TimeEmbeddingKind::raw});
  nn::Adam opt(model.parameters(), {.lr = 1e-2});
  const std::int64_t b = 2048;
  for (int step = 0; step < steps; ++step) {
    const Tensor x1 = data.sample(b, gen), x0 = randn({b, 2}, gen), t = rand({b, 1}, gen);
    const PathSample p = Path::rectified().sample(x0, x1, t);
    auto [l, grads] = nn::loss_and_grad(model.parameters(), [&] {
      if (loss == "fdm") return fdm_loss(model, p, t, gen).total;
      const Tensor v = model(p.xt, t);
      return loss == "cfm" ? cfm_loss(v, p.ut) : entropic_loss(per_sample_loss(v, p.ut), 0.3);
    });
    opt.step(grads);
  }
  std::vector<float> flat;
  for (const Tensor& w : model.parameters()) {
    const float* d = w.data<float>();
    flat.insert(flat.end(), d, d + w.numel());
  }
  return flat;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(flow_training)

// Every kernel computes each value by the same instruction sequence whatever its chunk or
// block (docs/performance.md, Threads), so whole training steps on two threads give the bits
// of one. This covers the GEMMs' blocks, the maps' chunks, the fused SiLU backward's column
// sums, the JVP's fused nodes (FDM) and Adam together.
BOOST_AUTO_TEST_CASE(training_steps_are_bit_identical_on_one_and_two_threads) {
  for (const std::string loss : {"cfm", "entropic", "fdm"}) {
    BOOST_TEST_CONTEXT("loss " << loss) {
      const std::vector<float> one = params_after(loss, 1, 3), two = params_after(loss, 2, 3);
      BOOST_TEST_REQUIRE(one.size() == two.size());
      BOOST_TEST(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
      // The steps moved the parameters: comparing untrained models would prove nothing.
      BOOST_TEST(std::memcmp(one.data(), params_after(loss, 1, 0).data(),
                             one.size() * sizeof(float)) != 0);
    }
  }
}

BOOST_AUTO_TEST_CASE(cfm_learns_eight_gaussians) {
  const auto [before, after] = train(
      [](const nn::VelocityMLP& m, const Tensor& x0, const Tensor& x1, const Tensor& t, Generator&) {
        const PathSample p = Path::rectified().sample(x0, x1, t);
        return cfm_loss(m(p.xt, t), p.ut);
      },
      800);
  BOOST_TEST_MESSAGE("CFM: MMD untrained " << before << ", trained " << after);
  BOOST_TEST(before > 0.05);
  BOOST_TEST(after < 0.01);
}

BOOST_AUTO_TEST_CASE(entropic_and_fdm_also_train) {
  const auto [eb, ea] = train(
      [](const nn::VelocityMLP& m, const Tensor& x0, const Tensor& x1, const Tensor& t, Generator&) {
        const PathSample p = Path::rectified().sample(x0, x1, t);
        return entropic_loss(per_sample_loss(m(p.xt, t), p.ut), 0.02);
      },
      800);
  BOOST_TEST_MESSAGE("entropic: MMD untrained " << eb << ", trained " << ea);
  BOOST_TEST(ea < 0.01);
  const auto [fb, fa] = train(
      [](const nn::VelocityMLP& m, const Tensor& x0, const Tensor& x1, const Tensor& t, Generator& g) {
        const PathSample p = Path::rectified().sample(x0, x1, t);
        return fdm_loss(m, p, t, g).total;
      },
      800);
  BOOST_TEST_MESSAGE("FDM: MMD untrained " << fb << ", trained " << fa);
  BOOST_TEST(fa < 0.03);  // the divergence term slows the CFM part a little in 800 steps
}

BOOST_AUTO_TEST_SUITE_END()
