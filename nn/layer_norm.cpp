// SPDX-License-Identifier: MIT
// LayerNorm, written with differentiable ops (its gradient comes from the op table).
#include "flowtape/nn/layer_norm.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/ops.hpp"

namespace flowtape::nn {

LayerNorm::LayerNorm(std::int64_t features, double eps, DType dtype)
    : features_(features), eps_(eps) {
  if (features <= 0) throw std::invalid_argument("LayerNorm: features must be positive");
  // (eps = 0 divides 0 by 0 on a constant row.)
  if (!(std::isfinite(eps) && eps > 0))
    throw std::invalid_argument("LayerNorm: eps must be finite and > 0, got " +
                                std::to_string(eps));
  gain = register_parameter("weight", ones({features}, dtype));  // PyTorch's names
  bias = register_parameter("bias", zeros({features}, dtype));
}

Tensor LayerNorm::operator()(const Tensor& x) const {
  if (x.rank() < 1 || x.size(-1) != features_)
    throw std::invalid_argument("LayerNorm: input " + x.str() +
                                " does not end in features=" + std::to_string(features_));
  const Tensor centered = x - mean(x, -1, true);
  const Tensor var = mean(square(centered), -1, true);
  return centered / sqrt(var + eps_) * gain + bias;
}

}  // namespace flowtape::nn
