// SPDX-License-Identifier: MIT
// MLP: Linear layers of the given widths with an activation between them, and a residual
// block. The MLP's layers are named "layers.0", "layers.1", ... so the weights read
// "layers.0.weight" in a checkpoint.
#pragma once

#include <memory>
#include <vector>

#include "flowtape/nn/activation.hpp"
#include "flowtape/nn/layer_norm.hpp"
#include "flowtape/nn/linear.hpp"

namespace flowtape::nn {

class MLP : public Module {
 public:
  // widths = {in, hidden..., out}: widths.size() - 1 Linear layers. The activation follows
  // every layer but the last, unless activate_last is set.
  MLP(const std::vector<std::int64_t>& widths, Generator& gen,
      Activation activation = Activation::silu, bool activate_last = false,
      DType dtype = DType::f32);

  Tensor operator()(const Tensor& x) const;

  const std::vector<std::shared_ptr<Linear>>& layers() const { return layers_; }

 private:
  std::vector<std::shared_ptr<Linear>> layers_;
  Activation activation_;
  bool activate_last_;
};

// x + fc2(act(fc1(norm(x)))): a pre-norm residual block of constant width (norm optional).
// fc2 starts at PyTorch's default init, not zero, so the block is not an identity at start.
class ResidualBlock : public Module {
 public:
  ResidualBlock(std::int64_t width, Generator& gen, Activation activation = Activation::silu,
                bool layer_norm = true, DType dtype = DType::f32);

  Tensor operator()(const Tensor& x) const;

 private:
  std::shared_ptr<LayerNorm> norm_;  // null without layer norm
  std::shared_ptr<Linear> fc1_, fc2_;
  Activation activation_;
};

}  // namespace flowtape::nn
