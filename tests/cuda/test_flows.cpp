// SPDX-License-Identifier: MIT
// The flow-matching layer on the GPU: every loss and its parameter gradients against the CPU's
// in f64 (FDM's Hutchinson probes come from the device Philox, which gives the CPU's numbers),
// an adaptive solve against the CPU's, and the claim of the CUDA issue that a training step
// never waits for the device and a solve waits once per step (for the step-size control's
// error norm), counted by cuda_host_waits().
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "flowtape/flows/flows.hpp"
#include "flowtape/nn/nn.hpp"
#include "gpu.hpp"

using namespace flowtape;

namespace {

struct Batch {
  Tensor x0, x1, t;
  Batch to(Device d) const { return {x0.to(d), x1.to(d), t.to(d)}; }
};

Batch make_batch(std::int64_t b, DType dtype) {
  Generator gen(5);
  const flows::EightGaussians data;
  return {to_dtype(randn({b, 2}, gen), dtype), to_dtype(data.sample(b, gen), dtype),
          to_dtype(rand({b, 1}, gen), dtype)};
}

// The same weights on `device`: built from the same seed.
nn::VelocityMLP make_model(Device device, DType dtype) {
  Generator gen(3);
  nn::VelocityMLP m(2, 48, 2, gen, {.dtype = dtype});
  nn::to_device(m, device);
  return m;
}

enum class Objective { cfm, entropic, fdm, fdm_exact };

// The loss and the gradients of the model's parameters, brought back to the host.
std::vector<Tensor> loss_and_grads(Objective obj, Device device) {
  nn::VelocityMLP model = make_model(device, DType::f64);
  const Batch b = make_batch(300, DType::f64).to(device);
  Generator gen(11);  // FDM's probes
  auto [loss, grads] = nn::loss_and_grad(model.parameters(), [&] {
    const flows::PathSample p = flows::Path::rectified().sample(b.x0, b.x1, b.t);
    switch (obj) {
      case Objective::cfm:
        return flows::cfm_loss(model(p.xt, b.t), p.ut);
      case Objective::entropic:
        return flows::entropic_loss(flows::per_sample_loss(model(p.xt, b.t), p.ut), 0.3);
      case Objective::fdm:
        return flows::fdm_loss(model, p, b.t, gen).total;
      default:
        return flows::fdm_loss(model, p, b.t, gen, {.exact_divergence = true}).total;
    }
  });
  std::vector<Tensor> out = {to_host(loss)};
  for (const Tensor& g : grads) out.push_back(to_host(g));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(flows_on_gpu, *test::needs_gpu())

BOOST_AUTO_TEST_CASE(losses_and_gradients_match_cpu) {
  const std::pair<const char*, Objective> objectives[] = {{"cfm", Objective::cfm},
                                                          {"entropic", Objective::entropic},
                                                          {"fdm hutchinson", Objective::fdm},
                                                          {"fdm exact", Objective::fdm_exact}};
  for (auto [name, obj] : objectives) {
    const std::vector<Tensor> cpu = loss_and_grads(obj, Device::cpu);
    const std::vector<Tensor> gpu = loss_and_grads(obj, Device::cuda);
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST_REQUIRE(cpu.size() == gpu.size());
      BOOST_TEST(std::isfinite(cpu[0].item()));
      for (std::size_t i = 0; i < cpu.size(); ++i)
        BOOST_TEST(test::max_rel_diff(gpu[i].to_vector(), cpu[i].to_vector()) <= 1e-10,
                   (i == 0 ? "loss" : "gradient " + std::to_string(i - 1)));
    }
  }
}

BOOST_AUTO_TEST_CASE(adaptive_solve_matches_cpu_and_waits_once_per_step) {
  const nn::VelocityMLP cpu_model = make_model(Device::cpu, DType::f64);
  const nn::VelocityMLP gpu_model = make_model(Device::cuda, DType::f64);
  const Tensor x0 = make_batch(500, DType::f64).x0;
  flows::SampleOptions opt;
  opt.solver.rtol = 1e-7;
  opt.solver.atol = 1e-8;
  const flows::SampleResult cpu = flows::sample(cpu_model, x0, opt);
  const Tensor x0_gpu = x0.to(Device::cuda);
  // The sinusoidal embedding's constant frequencies follow the model to the device on its first
  // call (one copy); make that call before counting.
  (void)gpu_model(x0_gpu, flows::time_column(0.0, x0_gpu));
  const std::uint64_t before = cuda_host_waits();
  const flows::SampleResult gpu = flows::sample(gpu_model, x0_gpu, opt);
  const std::uint64_t waits = cuda_host_waits() - before;
  BOOST_TEST(gpu.x.device() == Device::cuda);
  BOOST_TEST(test::max_rel_diff(gpu.x.to_vector(), cpu.x.to_vector()) <= 1e-9);
  // The step sequences agree up to an error norm that rounds across the acceptance boundary.
  BOOST_TEST(std::abs(gpu.stats.accepted - cpu.stats.accepted) <= 2);
  BOOST_TEST(std::abs(gpu.stats.rejected - cpu.stats.rejected) <= 2);
  const long steps = gpu.stats.accepted + gpu.stats.rejected;
  BOOST_TEST_MESSAGE("dopri5 on cuda: " << steps << " steps, " << gpu.stats.nfe << " evaluations, "
                                        << waits << " host waits");
  // One error norm per attempted step, plus the start: Hairer's initial step (three norms) and
  // the finiteness checks of the initial state and derivative.
  BOOST_TEST(waits >= static_cast<std::uint64_t>(steps));
  BOOST_TEST(waits <= static_cast<std::uint64_t>(steps) + 5);
}

BOOST_AUTO_TEST_CASE(likelihood_matches_cpu) {
  const nn::VelocityMLP cpu_model = make_model(Device::cpu, DType::f64);
  const nn::VelocityMLP gpu_model = make_model(Device::cuda, DType::f64);
  const Tensor x1 = make_batch(200, DType::f64).x1;
  for (bool exact : {true, false}) {
    flows::LikelihoodOptions opt;
    opt.exact_divergence = exact;
    opt.seed = 4;
    const flows::LikelihoodResult cpu = flows::log_likelihood(cpu_model, x1, opt);
    const flows::LikelihoodResult gpu = flows::log_likelihood(gpu_model, x1.to(Device::cuda), opt);
    BOOST_TEST_CONTEXT((exact ? "exact divergence" : "hutchinson")) {
      BOOST_TEST(gpu.log_prob.device() == Device::cuda);
      BOOST_TEST(test::max_rel_diff(gpu.log_prob.to_vector(), cpu.log_prob.to_vector()) <= 1e-8);
      BOOST_TEST(std::abs(flows::mean_nll(gpu) - flows::mean_nll(cpu)) <= 1e-8);
    }
  }
}

BOOST_AUTO_TEST_CASE(training_steps_do_not_wait_for_the_device) {
  for (Objective obj : {Objective::cfm, Objective::fdm}) {
    nn::VelocityMLP model = make_model(Device::cuda, DType::f32);
    nn::Adam opt(model.parameters(), {.lr = 1e-3});
    Generator gen(2);
    auto step = [&] {
      // Data drawn on the device, as gpu_train_bench does.
      const Tensor x1 = randn({512, 2}, gen, DType::f32, Device::cuda) * 0.5 + 2.0;
      const Tensor x0 = randn({512, 2}, gen, DType::f32, Device::cuda);
      const Tensor t = rand({512, 1}, gen, DType::f32, Device::cuda);
      auto [loss, grads] = nn::loss_and_grad(model.parameters(), [&] {
        const flows::PathSample p = flows::Path::rectified().sample(x0, x1, t);
        return obj == Objective::cfm ? flows::cfm_loss(model(p.xt, t), p.ut)
                                     : flows::fdm_loss(model, p, t, gen).total;
      });
      opt.step(grads);
      return loss;
    };
    step();  // warm-up: first allocations
    const std::uint64_t before = cuda_host_waits();
    Tensor loss;
    for (int i = 0; i < 5; ++i) loss = step();
    BOOST_TEST(cuda_host_waits() - before == 0u, (obj == Objective::cfm ? "cfm" : "fdm"));
    BOOST_TEST(std::isfinite(loss.item()));  // reading the loss is the one wait
  }
}

BOOST_AUTO_TEST_SUITE_END()
