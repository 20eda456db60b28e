// End to end on the GPU: the fused Adam step matches the CPU's, and a few hundred CFM steps of
// a small VelocityMLP on cuda reach the CPU run's loss (same seeds, same data; the runs
// differ only by floating-point summation order, so they track each other closely without
// being bit-identical).
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "flows/datasets.hpp"
#include "flows/losses.hpp"
#include "flows/path.hpp"
#include "gpu.hpp"
#include "nn/nn.hpp"

using namespace flowtape;

namespace {

// Mean CFM loss over the last 50 of `steps` steps on `device`.
double train_cfm(Device device, int steps) {
  Generator gen(42);
  const flows::EightGaussians data;
  nn::VelocityMLP model(2, 64, 2, gen, {.time_embedding = nn::TimeEmbeddingKind::raw});
  nn::to_device(model, device);
  nn::Adam opt(model.parameters(), {.lr = 3e-3});
  double tail = 0;
  for (int step = 0; step < steps; ++step) {
    // Drawn on the host so both runs see the same batches, then moved.
    const Tensor x1 = data.sample(256, gen).to(device), x0 = randn({256, 2}, gen).to(device),
                 t = rand({256, 1}, gen).to(device);
    auto [loss, grads] = nn::loss_and_grad(model.parameters(), [&] {
      const flows::PathSample p = flows::Path::rectified().sample(x0, x1, t);
      return flows::cfm_loss(model(p.xt, t), p.ut);
    });
    opt.step(grads);
    if (step >= steps - 50) tail += loss.item() / 50;
  }
  return tail;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(training, *test::needs_gpu())

BOOST_AUTO_TEST_CASE(adam_kernel_matches_cpu) {
  for (DType t : {DType::f32, DType::f64}) {
    Generator gen(8);
    const Tensor p0 = randn({1031}, gen, t), g0 = randn({1031}, gen, t);
    Tensor pc = copy(p0), pg = p0.to(Device::cuda);
    nn::AdamW cpu_opt({pc}, {.lr = 1e-2, .weight_decay = 0.1});
    nn::AdamW gpu_opt({pg}, {.lr = 1e-2, .weight_decay = 0.1});
    for (int i = 0; i < 5; ++i) {
      cpu_opt.step({g0 * static_cast<double>(i + 1)});
      gpu_opt.step({(g0 * static_cast<double>(i + 1)).to(Device::cuda)});
    }
    BOOST_TEST(test::max_rel_diff(pg.to_vector(), pc.to_vector()) <=
               (t == DType::f32 ? 1e-6 : 1e-14));
    // The state round-trips to the host for checkpoints.
    BOOST_TEST(test::max_rel_diff(to_host(gpu_opt.state()[1].second).to_vector(),
                                  cpu_opt.state()[1].second.to_vector()) <= 1e-5);
  }
}

BOOST_AUTO_TEST_CASE(cfm_training_matches_cpu) {
  const double cpu = train_cfm(Device::cpu, 300), gpu = train_cfm(Device::cuda, 300);
  BOOST_TEST_MESSAGE("CFM loss over the last 50 of 300 steps: cpu " << cpu << ", cuda " << gpu);
  BOOST_TEST(std::isfinite(gpu));
  BOOST_TEST(std::abs(gpu - cpu) <= 0.1 * cpu);
}

BOOST_AUTO_TEST_SUITE_END()
