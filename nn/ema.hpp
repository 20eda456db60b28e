// SPDX-License-Identifier: MIT
// EMA: an exponential moving average of the weights, shadow = decay * shadow + (1 - decay) * p
// after each update; evaluation and sampling often use the averaged weights. The shadow starts
// as a copy of the parameters. Its tensors ("ema.0", ...) go into checkpoints like any state.
#pragma once

#include <vector>

#include "flowtape/nn/named_tensors.hpp"

namespace flowtape::nn {

class EMA {
 public:
  EMA(const std::vector<Tensor>& params, double decay = 0.999);

  void update(const std::vector<Tensor>& params);
  // Writes the averaged weights into `params` in place (keep a state_dict to swap back).
  void copy_to(const std::vector<Tensor>& params) const;

  double decay() const { return decay_; }
  const std::vector<Tensor>& shadow() const { return shadow_; }
  NamedTensors state() const;
  void load_state(const NamedTensors& state);

 private:
  void check(const std::vector<Tensor>& params, const char* who) const;
  double decay_;
  std::vector<Tensor> shadow_;
};

}  // namespace flowtape::nn
