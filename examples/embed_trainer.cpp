// SPDX-License-Identifier: MIT
// embed_trainer: flow matching embedded in a C++ program with the trainer library. Your data
// (a flows::Dataset: here a 2-D Gaussian standing in for it), your model (any nn::Module with
// operator()(x, t): here the library's VelocityMLP), minibatch-OT CFM, a checkpoint, and
// samples from the trained flow compared with the data.
// Usage: embed_trainer [checkpoint path (default embed_trainer.safetensors)]
#include <cstdio>
#include <exception>

#include "flowtape/flows/flows.hpp"
#include "flowtape/train/train.hpp"

using namespace flowtape;

static int run(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "embed_trainer.safetensors";
  auto data = std::make_shared<flows::Gaussian>(std::vector<double>{2.0, -1.0},
                                                std::vector<double>{0.5, 0.3, 0.3, 0.4});
  Generator init(0);
  auto model = std::make_shared<nn::VelocityMLP>(data->dim(), /*hidden=*/64, /*depth=*/2, init);

  train::TrainSpec spec;  // every other setting keeps its default (train/spec.hpp)
  spec.loss = train::Loss::cfm;
  spec.coupling = train::Coupling::ot;
  spec.steps = 1500;
  spec.batch = 128;
  train::Trainer trainer(spec, data, train::VelocityModel::of(model));
  trainer.train({.on_step = [](const train::StepReport& r) {
    if (r.step % 500 == 0) std::printf("step %4lld  loss %.4f\n", (long long)r.step, r.loss);
  }});
  trainer.save(path);

  Generator gen(1);
  const Tensor samples = flows::sample(trainer.field(), randn({4000, 2}, gen)).x;
  const Tensor real = data->sample(4000, gen);
  std::printf("saved %s; samples mean (%.3f, %.3f), data mean (%.3f, %.3f); MMD %.4f\n", path,
              mean(samples, 0).to_vector()[0], mean(samples, 0).to_vector()[1],
              mean(real, 0).to_vector()[0], mean(real, 0).to_vector()[1],
              flows::mmd_rbf(samples, real));
  return 0;
}

// The library reports bad settings and failed writes by exceptions (std::invalid_argument,
// std::runtime_error, ...): a program embedding it decides what to do with them.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
