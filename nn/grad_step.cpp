// SPDX-License-Identifier: MIT
// loss_and_grad.
#include "flowtape/nn/grad_step.hpp"

#include <stdexcept>

#include "flowtape/autodiff/tape.hpp"

namespace flowtape::nn {

std::pair<Tensor, std::vector<Tensor>> loss_and_grad(const std::vector<Tensor>& params,
                                                     const std::function<Tensor()>& loss_fn) {
  if (Tape::active())
    throw std::logic_error(
        "loss_and_grad: a Tape is already active on this thread; take the gradient on it "
        "(tape.watch(params); tape.gradient(loss, params)) instead");
  Tape tape;
  // Like the autodiff verbs, a transformation of loss_fn: it differentiates even inside NoGrad
  // (where it would otherwise record nothing and return zeros).
  detail::RecordingScope on(true);
  tape.watch(params);
  Tensor loss = loss_fn();
  std::vector<Tensor> grads = tape.gradient(loss, params);
  return {loss, std::move(grads)};
}

}  // namespace flowtape::nn
