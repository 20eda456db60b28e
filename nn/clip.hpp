// SPDX-License-Identifier: MIT
// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_: the total 2-norm over
// all gradients; if it exceeds max_norm every gradient is scaled by max_norm / (norm + 1e-6).
#pragma once

#include <vector>

#include "flowtape/runtime/tensor.hpp"

namespace flowtape::nn {

// Replaces the entries of `grads` by scaled copies (never writes into the old buffers: a
// gradient may share its buffer with another one or with a value the tape saved). Returns the
// total norm before clipping. Check it: a non-finite norm (a NaN or infinite gradient entry, or
// finite ones whose squares overflow) leaves the gradients NaN or scales them by 0, as
// PyTorch does.
double clip_grad_norm(std::vector<Tensor>& grads, double max_norm);

}  // namespace flowtape::nn
