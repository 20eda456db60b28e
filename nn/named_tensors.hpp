// SPDX-License-Identifier: MIT
// NamedTensors: an ordered list of (name, tensor) pairs. It is what a state_dict, an optimizer's
// state and a safetensors file hold. Insertion order is kept (not sorted) so "layers.2" comes
// before "layers.10", as in PyTorch's state_dict; lookups are linear, which is fine for the few
// hundred entries a model has.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "flowtape/runtime/tensor.hpp"

namespace flowtape::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// The tensor called `name`, or nullptr.
const Tensor* find(const NamedTensors& named, const std::string& name);

// Copies `src` into `dst`'s buffer (same shape and dtype required, checked by the caller), so
// every handle to `dst` sees the new values: this is how weights are loaded and updated.
void copy_into(Tensor& dst, const Tensor& src);

}  // namespace flowtape::nn
