// SPDX-License-Identifier: MIT
// --device (TrainSpec::device): a run that asks for a device it cannot have is refused before
// anything happens, with the reason; on a machine with a GPU, a cuda run trains on the same
// batches as the cpu run of the same config and ends where it does (the numbers differ only by
// summation order), its checkpoints resume on either device, and its field() takes and returns
// host tensors. The GPU cases skip, saying so, where there is no GPU (CI); scripts/gpu_check.sh
// runs them on one.
#include <boost/test/unit_test.hpp>

#include "flowtape/flows/sample.hpp"
#include "support/gpu.hpp"
#include "train/support.hpp"

using namespace flowtape;
using namespace flowtape::train;
using namespace flowtape::train::test;

namespace {

auto message_has(const std::string& part) {
  return [part](const std::invalid_argument& e) {
    BOOST_TEST_MESSAGE("message: " << e.what());
    return std::string(e.what()).find(part) != std::string::npos;
  };
}

// The largest flowtape::test::max_rel_diff over the two models' parameters and buffers.
double weight_gap(nn::Module& a, nn::Module& b) {
  const nn::NamedTensors sa = a.state_dict(), sb = b.state_dict();
  double worst = 0;
  for (std::size_t i = 0; i < sa.size(); ++i)
    worst = std::max(
        worst, flowtape::test::max_rel_diff(sa[i].second.to_vector(), sb[i].second.to_vector()));
  return worst;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(device)

BOOST_AUTO_TEST_CASE(an_unknown_device_is_refused) {
  TrainSpec c = small_config("cfm");
  c.device = static_cast<Device>(7);  // a value no choice names
  BOOST_CHECK_EXCEPTION(Trainer{c}, std::invalid_argument, message_has("device"));
}

BOOST_AUTO_TEST_CASE(cuda_without_a_gpu_is_refused_with_the_reason) {
  if (cuda_device_count() > 0) {
    BOOST_TEST_MESSAGE("this machine has a GPU: the refusal is not reachable here");
    return;
  }
  TrainSpec c = small_config("cfm");
  c.device = Device::cuda;
  BOOST_CHECK_EXCEPTION(Trainer{c}, std::invalid_argument,
                        message_has(cuda_built() ? "no CUDA device found" : "no CUDA backend"));
}

BOOST_AUTO_TEST_CASE(a_cuda_run_matches_the_cpu_run, *flowtape::test::needs_gpu()) {
  Scratch scratch;
  for (const char* loss : {"cfm", "entropic", "fdm"}) {
    BOOST_TEST_CONTEXT(loss) {
      TrainSpec c = small_config(loss);
      c.steps = 40;
      Trainer cpu(c);
      c.device = Device::cuda;
      Trainer gpu(c);
      BOOST_TEST(gpu.module().parameters()[0].device() == Device::cuda);
      double last_cpu = 0, last_gpu = 0;
      cpu.train({.on_step = [&](const StepReport& r) { last_cpu = r.loss; }});
      gpu.train({.on_step = [&](const StepReport& r) { last_gpu = r.loss; }});
      BOOST_TEST(std::abs(last_gpu - last_cpu) <= 1e-3 * std::abs(last_cpu));
      BOOST_TEST(weight_gap(gpu.module(), cpu.module()) <= 1e-3);

      // A cuda checkpoint resumes on the device with the same bits, and on the cpu.
      const std::string ckpt = scratch / (std::string(loss) + ".safetensors");
      gpu.save(ckpt);
      Trainer again(c);
      again.resume(ckpt);
      BOOST_TEST(again.steps_done() == 40);
      BOOST_TEST(weight_gap(again.module(), gpu.module()) == 0.0);
      c.device = Device::cpu;
      Trainer on_cpu(c);
      on_cpu.resume(ckpt);
      BOOST_TEST(weight_gap(on_cpu.module(), gpu.module()) == 0.0);

      // field(): host tensors in and out, the cpu model's answer.
      Generator gen(9);
      const Tensor x0 = randn({64, 2}, gen);
      const Tensor a = flows::sample(gpu.field(), x0).x, b = flows::sample(cpu.field(), x0).x;
      BOOST_TEST(a.device() == Device::cpu);
      const std::vector<double> va = a.to_vector(), vb = b.to_vector();
      double gap = 0;
      for (std::size_t i = 0; i < va.size(); ++i) gap = std::max(gap, std::abs(va[i] - vb[i]));
      BOOST_TEST(gap <= 1e-2);
    }
  }
}

// A sharded step on the GPU (the shards one after the other, their loss formed on the host)
// matches the cpu's: the loss and the gradients' sums met in one read on two devices before.
BOOST_AUTO_TEST_CASE(a_sharded_cuda_run_matches_the_cpu_run, *flowtape::test::needs_gpu()) {
  for (const char* loss : {"cfm", "entropic", "fdm"}) {
    BOOST_TEST_CONTEXT(loss) {
      TrainSpec c = small_config(loss);
      c.steps = 10;
      c.shards = 4;
      Trainer cpu(c);
      c.device = Device::cuda;
      Trainer gpu(c);
      double last_cpu = 0, last_gpu = 0;
      cpu.train({.on_step = [&](const StepReport& r) { last_cpu = r.loss; }});
      gpu.train({.on_step = [&](const StepReport& r) { last_gpu = r.loss; }});
      BOOST_TEST(std::abs(last_gpu - last_cpu) <= 1e-3 * std::abs(last_cpu));
      BOOST_TEST(weight_gap(gpu.module(), cpu.module()) <= 1e-3);
    }
  }
}

// Conditional training (labels, OT within classes, condition dropout, guidance) on the GPU
// matches the cpu run, as unconditional training does.
BOOST_AUTO_TEST_CASE(a_conditional_cuda_run_matches_the_cpu_run, *flowtape::test::needs_gpu()) {
  for (const Conditioning way : {Conditioning::concat, Conditioning::film}) {
    TrainSpec c = small_config("cfm");
    c.dataset = "8gaussians";
    c.conditional = true;
    c.coupling = Coupling::ot;
    c.conditioning = way;
    c.steps = 40;
    Trainer cpu(c);
    c.device = Device::cuda;
    Trainer gpu(c);
    cpu.train();
    gpu.train();
    BOOST_TEST(weight_gap(gpu.module(), cpu.module()) <= 1e-3);
    Generator gen(9);
    const Tensor x0 = randn({64, 2}, gen);
    const Tensor labels = full(Shape{64}, 3.0, DType::i64);
    const std::vector<double> a = flows::sample(gpu.field_for(labels), x0).x.to_vector(),
                              b = flows::sample(cpu.field_for(labels), x0).x.to_vector();
    double gap = 0;
    for (std::size_t i = 0; i < a.size(); ++i) gap = std::max(gap, std::abs(a[i] - b[i]));
    BOOST_TEST(gap <= 1e-2);
  }
}

BOOST_AUTO_TEST_SUITE_END()
