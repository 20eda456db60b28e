// SPDX-License-Identifier: MIT
// Linear: y = x W^T + b with W stored [out, in] as in PyTorch (so checkpoints map one to one),
// applied by matmul's transpose flag rather than a copy. Initialisation is PyTorch's default:
// W and b ~ U(-1/sqrt(in), 1/sqrt(in)) (Kaiming-uniform with a = sqrt(5)), drawn from `gen`.
#pragma once

#include "flowtape/nn/activation.hpp"
#include "flowtape/nn/module.hpp"
#include "flowtape/runtime/random.hpp"

namespace flowtape::nn {

class Linear : public Module {
 public:
  Linear(std::int64_t in, std::int64_t out, Generator& gen, bool bias = true,
         DType dtype = DType::f32);

  // x [..., in] -> [..., out]
  Tensor operator()(const Tensor& x) const;
  // activate(a, (*this)(x)): the layer and its activation, as the one op linear_silu where
  // that applies (SiLU, a bias, 2-D x), which gives the same bits.
  Tensor operator()(const Tensor& x, Activation a) const;

  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }

  Tensor weight;  // [out, in]
  Tensor bias;    // [out], undefined without bias

 private:
  std::int64_t in_, out_;
};

}  // namespace flowtape::nn
