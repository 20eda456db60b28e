// SPDX-License-Identifier: MIT
// LayerNorm over the last axis with a learnable gain (ones) and bias (zeros), as in PyTorch:
//   y = (x - mean) / sqrt(var + eps) * gain + bias, var the biased variance.
#pragma once

#include "flowtape/nn/module.hpp"

namespace flowtape::nn {

class LayerNorm : public Module {
 public:
  explicit LayerNorm(std::int64_t features, double eps = 1e-5, DType dtype = DType::f32);

  Tensor operator()(const Tensor& x) const;  // x [..., features]

  Tensor gain;  // [features]
  Tensor bias;  // [features]

 private:
  std::int64_t features_;
  double eps_;
};

}  // namespace flowtape::nn
