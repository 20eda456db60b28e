// SPDX-License-Identifier: MIT
// loss_and_grad: the reverse-mode half of a training step over a model's parameters.
// value_and_grad() differentiates a function of its arguments; a model reads its own
// parameter handles instead, so here the parameters are watched on a fresh Tape, the loss is
// computed by `loss_fn`, and the gradients come back in the parameters' order:
//
//   auto [loss, grads] = nn::loss_and_grad(params, [&] { return mean(square(model(x, t) - v)); });
//   opt.step(grads);
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "flowtape/runtime/tensor.hpp"

namespace flowtape::nn {

// Needs no tape to be active on this thread (one tape per thread).
std::pair<Tensor, std::vector<Tensor>> loss_and_grad(const std::vector<Tensor>& params,
                                                     const std::function<Tensor()>& loss_fn);

}  // namespace flowtape::nn
