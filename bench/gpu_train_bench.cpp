// SPDX-License-Identifier: MIT
// Training throughput on the GPU: optimizer steps per second of CFM and FDM (Hutchinson, one
// Rademacher probe) on a VelocityMLP (2-D data, 3 x 256 hidden, SiLU, raw time), f32, at
// batch 1024 and 65536. Data, noise and times are drawn on the device each step (Philox), so
// the loop measures flowtape's GPU path, not host-to-device copies. Each timed call ends with
// a device synchronise. bench/torch_gpu_train.py runs the same model and steps in PyTorch.
//
// Prints a note and exits 0 when the build has no CUDA or the machine no GPU. With arguments
// `cfm|fdm BATCH STEPS` it runs one cell's steps untimed, for a profiler.
#include <cstdio>
#include <string>

#include "bench/timing.hpp"
#include "flowtape/flows/losses.hpp"
#include "flowtape/flows/path.hpp"
#include "flowtape/nn/nn.hpp"

using namespace flowtape;

namespace {

// One cell's training loop: `step()` runs one optimizer step and waits for it.
struct Trainer {
  Trainer(bool fdm_, std::int64_t batch_) : fdm(fdm_), batch(batch_) {}
  bool fdm;
  std::int64_t batch;
  Generator gen{0};
  nn::VelocityMLP model{2, 256, 3, gen, {.time_embedding = nn::TimeEmbeddingKind::raw}};
  bool on_device = (nn::to_device(model, Device::cuda), true);  // before the optimizer's state
  nn::Adam opt{model.parameters(), {.lr = 1e-3}};
  const flows::Path path = flows::Path::rectified();
  void step() {
    // x1: a two-component Gaussian mixture, made on the device from normals.
    const Tensor z = randn({batch, 2}, gen, DType::f32, Device::cuda);
    const Tensor side = to_dtype(
        greater(rand({batch, 1}, gen, DType::f32, Device::cuda), scalar_like(z, 0.5)), DType::f32);
    const Tensor x1 = z * 0.5 + (side * 8.0 - 4.0);
    const Tensor x0 = randn({batch, 2}, gen, DType::f32, Device::cuda);
    const Tensor t = rand({batch, 1}, gen, DType::f32, Device::cuda);
    auto [loss, grads] = nn::loss_and_grad(model.parameters(), [&] {
      const flows::PathSample p = path.sample(x0, x1, t);
      return fdm ? flows::fdm_loss(model, p, t, gen).total : flows::cfm_loss(model(p.xt, t), p.ut);
    });
    opt.step(grads);
    cuda_synchronize();
  }
};

double steps_per_second(bool fdm, std::int64_t batch) {
  Trainer trainer(fdm, batch);
  return 1.0 / bench::median_seconds([&] { trainer.step(); }, 0.5, 5);
}

}  // namespace

int main(int argc, char** argv) {
  if (!cuda_built()) {
    std::puts("gpu_train_bench: built without CUDA, skipping");
    return 0;
  }
  if (cuda_device_count() == 0) {
    std::puts("gpu_train_bench: no CUDA device found, skipping");
    return 0;
  }
  // For a profiler: `gpu_train_bench cfm|fdm BATCH STEPS` runs that many steps, untimed.
  if (argc == 4) {
    const std::string objective = argv[1];
    if (objective != "cfm" && objective != "fdm") {
      std::fprintf(stderr, "usage: gpu_train_bench [cfm|fdm BATCH STEPS]\n");
      return 2;
    }
    Trainer trainer(objective == "fdm", std::stoll(argv[2]));
    for (long i = 0, n = std::stol(argv[3]); i < n; ++i) trainer.step();
    return 0;
  }
  std::puts("objective  batch   steps/s");
  for (bool fdm : {false, true})
    for (std::int64_t batch : {1024, 65536})
      std::printf("%-9s  %6lld  %8.1f\n", fdm ? "fdm" : "cfm", static_cast<long long>(batch),
                  steps_per_second(fdm, batch));
  return 0;
}
