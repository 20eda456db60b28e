// SPDX-License-Identifier: MIT
// A user's program: trains a flow-matching model on the two-moons data, samples it, and exits
// 0 only if the samples are close to the data. It is built by tests/consumer/run.sh against
// an installed flowtape (find_package, pkg-config, the .deb) and as a subproject.
#include <cstdio>
#include <flowtape/flowtape.hpp>

using namespace flowtape;

int main() {
  Generator gen(1);
  const flows::Moons data;
  const flows::Path path = flows::Path::rectified();
  nn::VelocityMLP model(/*dim=*/2, /*hidden=*/64, /*depth=*/2, gen);
  nn::Adam opt(model.parameters(), {.lr = 3e-3});

  for (int step = 1; step <= 1500; ++step) {
    const Tensor x1 = data.sample(256, gen), x0 = randn({256, 2}, gen), t = rand({256, 1}, gen);
    const flows::PathSample p = path.sample(x0, x1, t);
    auto [loss, grads] = nn::loss_and_grad(model.parameters(),
                                           [&] { return flows::cfm_loss(model(p.xt, t), p.ut); });
    opt.step(grads);
    if (step % 500 == 0) std::printf("step %4d  loss %.4f\n", step, loss.item());
  }

  const Tensor reference = data.sample(1000, gen);
  const double mmd_model = flows::mmd_rbf(flows::sample(model, randn({1000, 2}, gen)).x, reference);
  const double mmd_noise = flows::mmd_rbf(randn({1000, 2}, gen), reference);
  std::printf("MMD to the data: generated %.4f, noise %.4f\n", mmd_model, mmd_noise);
  return mmd_model < 0.1 * mmd_noise ? 0 : 1;
}
