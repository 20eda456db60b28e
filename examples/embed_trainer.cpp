// SPDX-License-Identifier: MIT
// embed_trainer: the whole training loop of a flowtape model in plain C++ - a VelocityMLP
// regressed onto v(x, t) = -x + sin(3 t) with Adam, then saved as a safetensors checkpoint.
// Usage: embed_trainer [checkpoint path (default embed_trainer.safetensors)]
#include <cstdio>

#include "flowtape/nn/nn.hpp"

using namespace flowtape;

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "embed_trainer.safetensors";
  nn::Generator gen(0);  // same seed, bit-identical run
  nn::VelocityMLP model(/*dim=*/2, /*hidden=*/64, /*depth=*/2, gen);
  nn::Adam opt(model.parameters(), {.lr = 3e-3});

  for (int step = 1; step <= 500; ++step) {
    const Tensor x = randn({128, 2}, gen), t = rand({128}, gen);
    const Tensor target = sin(3.0 * reshape(t, {128, 1})) - x;
    auto [loss, grads] =
        nn::loss_and_grad(model.parameters(), [&] { return mean(square(model(x, t) - target)); });
    opt.step(grads);
    if (step % 100 == 0) std::printf("step %4d  loss %.5f\n", step, loss.item());
  }
  nn::save_checkpoint(path, model, &opt, {{"example", "embed_trainer"}});
  std::printf("saved %s (%lld parameters)\n", path, static_cast<long long>(model.num_parameters()));
  return 0;
}
