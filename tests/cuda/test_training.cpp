// SPDX-License-Identifier: MIT
// End to end on the GPU: the fused Adam step matches the CPU's, and a few hundred CFM steps of
// a small VelocityMLP on cuda reach the CPU run's loss (same seeds, same data; the runs
// differ only by floating-point summation order, so they track each other closely without
// being bit-identical).
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "flowtape/flows/coupling.hpp"
#include "flowtape/flows/datasets.hpp"
#include "flowtape/flows/losses.hpp"
#include "flowtape/flows/path.hpp"
#include "flowtape/nn/nn.hpp"
#include "gpu.hpp"

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

// An EMA made before its model went to the GPU follows it there, as the optimizers' state
// does, and averages as it did on the host.
BOOST_AUTO_TEST_CASE(ema_follows_parameters_moved_to_the_gpu) {
  Tensor p = from_vector(std::vector<double>{1.0, 2.0}, {2}, DType::f64);
  nn::EMA ema({p}, 0.9);
  relocate(p, Device::cuda);
  nn::copy_into(p, from_vector(std::vector<double>{11.0, 2.0}, {2}, DType::f64).to(Device::cuda));
  ema.update({p});
  BOOST_TEST(ema.shadow()[0].device() == Device::cuda);
  BOOST_TEST(std::abs(to_host(ema.shadow()[0]).at(0) - 2.0) < 1e-15);
  ema.copy_to({p});
  BOOST_TEST(std::abs(to_host(p).at(0) - 2.0) < 1e-15);
}

// The training utilities that read their tensors: EMA, gradient clipping, checkpoints and the
// OT coupling give on device tensors what they give on the host copies.
BOOST_AUTO_TEST_CASE(utilities_accept_device_tensors) {
  Generator gen(6);
  const std::vector<Tensor> cpu = {randn({33, 7}, gen), randn({7}, gen, DType::f64)};
  std::vector<Tensor> gpu;
  for (const Tensor& t : cpu) gpu.push_back(t.to(Device::cuda));

  nn::EMA ema_cpu({copy(cpu[0]), copy(cpu[1])}, 0.9), ema_gpu({copy(gpu[0]), copy(gpu[1])}, 0.9);
  for (int i = 0; i < 3; ++i) {
    ema_cpu.update({cpu[0] * double(i), cpu[1] * double(i)});
    ema_gpu.update({gpu[0] * double(i), gpu[1] * double(i)});
  }
  for (std::size_t i = 0; i < 2; ++i)
    BOOST_TEST(test::max_rel_diff(ema_gpu.state()[i].second.to_vector(),
                                  ema_cpu.state()[i].second.to_vector()) <= 1e-6);

  std::vector<Tensor> gc = cpu, gg = gpu;
  const double norm_cpu = nn::clip_grad_norm(gc, 1.0), norm_gpu = nn::clip_grad_norm(gg, 1.0);
  BOOST_TEST(std::abs(norm_gpu - norm_cpu) <= 1e-9 * norm_cpu);
  BOOST_TEST(gg[0].device() == Device::cuda);
  for (std::size_t i = 0; i < 2; ++i)
    BOOST_TEST(test::max_rel_diff(gg[i].to_vector(), gc[i].to_vector()) <= 1e-6);

  const nn::NamedTensors named_cpu = {{"a", cpu[0]}, {"b", cpu[1]}};
  const nn::NamedTensors named_gpu = {{"a", gpu[0]}, {"b", gpu[1]}};
  BOOST_TEST(nn::encode_safetensors(named_gpu) == nn::encode_safetensors(named_cpu));

  const Tensor x0 = randn({40, 2}, gen, DType::f64), x1 = randn({40, 2}, gen, DType::f64);
  const flows::Pair ot_cpu = flows::couple(flows::CouplingKind::minibatch_ot, x0, x1);
  const flows::Pair ot_gpu =
      flows::couple(flows::CouplingKind::minibatch_ot, x0.to(Device::cuda), x1.to(Device::cuda));
  BOOST_TEST(ot_gpu.x1.device() == Device::cuda);
  BOOST_TEST(test::max_rel_diff(ot_gpu.x1.to_vector(), ot_cpu.x1.to_vector()) == 0.0);
}

BOOST_AUTO_TEST_CASE(cfm_training_matches_cpu) {
  const double cpu = train_cfm(Device::cpu, 300), gpu = train_cfm(Device::cuda, 300);
  BOOST_TEST_MESSAGE("CFM loss over the last 50 of 300 steps: cpu " << cpu << ", cuda " << gpu);
  BOOST_TEST(std::isfinite(gpu));
  BOOST_TEST(std::abs(gpu - cpu) <= 0.1 * cpu);
}

BOOST_AUTO_TEST_SUITE_END()
