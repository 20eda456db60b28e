// SPDX-License-Identifier: MIT
// MLP and ResidualBlock.
#include "flowtape/nn/mlp.hpp"

#include <stdexcept>
#include <string>

#include "flowtape/autodiff/ops.hpp"

namespace flowtape::nn {

MLP::MLP(const std::vector<std::int64_t>& widths, Generator& gen, Activation activation,
         bool activate_last, DType dtype)
    : activation_(activation), activate_last_(activate_last) {
  if (widths.size() < 2)
    throw std::invalid_argument("MLP: need at least an input and an output width, got " +
                                std::to_string(widths.size()) + " widths");
  // Every width before any layer is built (a bad last width once came after gigabytes of
  // earlier layers, and after drawing from gen).
  for (std::size_t i = 0; i < widths.size(); ++i)
    if (widths[i] <= 0)
      throw std::invalid_argument("MLP: widths must be positive, got " + std::to_string(widths[i]) +
                                  " at position " + std::to_string(i));
  for (std::size_t i = 0; i + 1 < widths.size(); ++i)
    layers_.push_back(
        register_module("layers." + std::to_string(i),
                        std::make_shared<Linear>(widths[i], widths[i + 1], gen, true, dtype)));
}

Tensor MLP::operator()(const Tensor& x) const {
  Tensor h = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const bool activated = i + 1 < layers_.size() || activate_last_;
    h = activated ? (*layers_[i])(h, activation_) : (*layers_[i])(h);
  }
  return h;
}

ResidualBlock::ResidualBlock(std::int64_t width, Generator& gen, Activation activation,
                             bool layer_norm, DType dtype)
    : activation_(activation) {
  if (layer_norm) norm_ = register_module("norm", std::make_shared<LayerNorm>(width, 1e-5, dtype));
  fc1_ = register_module("fc1", std::make_shared<Linear>(width, width, gen, true, dtype));
  fc2_ = register_module("fc2", std::make_shared<Linear>(width, width, gen, true, dtype));
}

Tensor ResidualBlock::operator()(const Tensor& x) const {
  const Tensor h = norm_ ? (*norm_)(x) : x;
  return x + (*fc2_)((*fc1_)(h, activation_));
}

}  // namespace flowtape::nn
