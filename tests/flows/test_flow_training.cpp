// End-to-end: a short seeded CFM training of a VelocityMLP on 8 Gaussians brings the samples'
// MMD to the data below a threshold that the untrained model fails; the same for the
// risk-entropic loss at a small lambda and for FDM, so each objective is shown to train.
#include <boost/test/unit_test.hpp>

#include "flows/datasets.hpp"
#include "flows/losses.hpp"
#include "flows/metrics.hpp"
#include "flows/sample.hpp"
#include "nn/nn.hpp"

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

}  // namespace

BOOST_AUTO_TEST_SUITE(flow_training)

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
