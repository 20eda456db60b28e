// SPDX-License-Identifier: MIT
// The judge of generated digits: a small MLP classifier (64 -> 128 -> 10, ReLU) trained by
// flowtape on the real training digits with softmax cross-entropy and Adam. Its accuracy on
// generated digits of class k says whether the flow drew a k.
#pragma once

#include <cstdint>
#include <memory>

#include "flowtape/nn/nn.hpp"

namespace flowtape::examples {

class DigitClassifier {
 public:
  explicit DigitClassifier(Generator& init);
  // Minibatch Adam on (x [n, 64], y [n] i64 labels).
  void fit(const Tensor& x, const Tensor& y, int steps, Generator& gen);
  Tensor logits(const Tensor& x) const;   // [n, 10]
  Tensor predict(const Tensor& x) const;  // [n] i64
  double accuracy(const Tensor& x, const Tensor& y) const;

 private:
  std::shared_ptr<nn::MLP> net_;
};

}  // namespace flowtape::examples
