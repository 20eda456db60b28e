// SPDX-License-Identifier: MIT
// Learning-rate schedules.
#include "flowtape/nn/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace flowtape::nn {

namespace {
// A learning rate a schedule starts from or ends at: finite and >= 0, checked when the
// schedule is made rather than at the step that would first use a bad value.
void check_rate(double lr, const char* who, const char* name) {
  if (!(std::isfinite(lr) && lr >= 0))
    throw std::invalid_argument(std::string(who) + ": " + name + " must be finite and >= 0, got " +
                                std::to_string(lr));
}
}  // namespace

Schedule constant_lr(double lr) {
  check_rate(lr, "constant_lr", "lr");
  return [lr](std::int64_t) { return lr; };
}

Schedule linear_warmup(double lr, std::int64_t warmup_steps) {
  check_rate(lr, "linear_warmup", "lr");
  if (warmup_steps < 0) throw std::invalid_argument("linear_warmup: warmup_steps must be >= 0");
  return [lr, warmup_steps](std::int64_t step) {
    if (step >= warmup_steps) return lr;
    return lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  };
}

Schedule cosine_decay(double lr, std::int64_t total_steps, std::int64_t warmup_steps,
                      double min_lr) {
  check_rate(lr, "cosine_decay", "lr");
  check_rate(min_lr, "cosine_decay", "min_lr");
  if (total_steps <= warmup_steps || warmup_steps < 0)
    throw std::invalid_argument("cosine_decay: need 0 <= warmup_steps < total_steps");
  const Schedule warm = linear_warmup(lr, warmup_steps);
  return [=](std::int64_t step) {
    if (step < warmup_steps) return warm(step);
    const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) /
                                              static_cast<double>(total_steps - warmup_steps));
    return min_lr + (lr - min_lr) * 0.5 * (1 + std::cos(std::numbers::pi * progress));
  };
}

Schedule step_decay(double lr, double gamma, std::int64_t every, std::int64_t warmup_steps) {
  check_rate(lr, "step_decay", "lr");
  if (!(gamma > 0 && gamma <= 1) || every < 1 || warmup_steps < 0)
    throw std::invalid_argument("step_decay: need 0 < gamma <= 1, every >= 1, warmup_steps >= 0");
  const Schedule warm = linear_warmup(lr, warmup_steps);
  return [=](std::int64_t step) {
    if (step < warmup_steps) return warm(step);
    return lr * std::pow(gamma, static_cast<double>(step / every));
  };
}

}  // namespace flowtape::nn
