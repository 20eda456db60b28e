// SPDX-License-Identifier: MIT
// Learning-rate schedules as callables step -> lr, where step counts the updates already taken
// (0 for the first). Use: opt.set_lr(schedule(opt.steps())); opt.step(grads);
#pragma once

#include <cstdint>
#include <functional>

namespace flowtape::nn {

using Schedule = std::function<double(std::int64_t step)>;

Schedule constant_lr(double lr);
// lr * (step + 1) / warmup_steps during the warm-up, then lr.
Schedule linear_warmup(double lr, std::int64_t warmup_steps);
// Linear warm-up, then half a cosine from lr down to min_lr at total_steps (min_lr after).
Schedule cosine_decay(double lr, std::int64_t total_steps, std::int64_t warmup_steps = 0,
                      double min_lr = 0.0);
// Linear warm-up, then lr * gamma^floor(step / every): PyTorch's StepLR, the official FDM
// code's schedule (gamma 0.999 every 10 steps). The decay counts from step 0, as a StepLR
// stepped beside a warm-up scheduler does (not from the warm-up's end, as SequentialLR
// would): with warm-up longer than `every`, the rate after it starts already decayed.
Schedule step_decay(double lr, double gamma, std::int64_t every, std::int64_t warmup_steps = 0);

}  // namespace flowtape::nn
