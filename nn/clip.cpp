// SPDX-License-Identifier: MIT
// clip_grad_norm.
#include "flowtape/nn/clip.hpp"

#include <cmath>
#include <stdexcept>

#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"

namespace flowtape::nn {

double clip_grad_norm(std::vector<Tensor>& grads, double max_norm) {
  if (!(max_norm >= 0)) throw std::invalid_argument("clip_grad_norm: max_norm must be >= 0");
  double sq = 0;                  // accumulated in double for f32 gradients too
  std::vector<Tensor> on_device;  // each one's sum of squares, computed where it lives
  for (const Tensor& g : grads) {
    if (g.device() != Device::cpu) {
      NoGrad no_grad;
      on_device.push_back(sum(square(to_dtype(g, DType::f64))));
      continue;
    }
    dispatch(g.dtype(), [&]<class T>() {
      const T* d = g.data<T>();
      for (std::int64_t j = 0; j < g.numel(); ++j) sq += static_cast<double>(d[j]) * d[j];
    });
  }
  // Device gradients: their partial sums added there, then read once (the one wait for the
  // device that clipping costs: the norm decides whether to scale, and is returned).
  if (!on_device.empty()) {
    NoGrad no_grad;
    Tensor total = on_device[0];
    for (std::size_t i = 1; i < on_device.size(); ++i) total = total + on_device[i];
    sq += total.item();
  }
  const double total = std::sqrt(sq);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1) {
    NoGrad no_grad;
    for (Tensor& g : grads) g = copy(g * coef);
  }
  return total;
}

}  // namespace flowtape::nn
