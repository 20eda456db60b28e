// SPDX-License-Identifier: MIT
// Activation functions by name, so layer builders and command lines can choose one.
// gelu is the tanh approximation (Hendrycks & Gimpel; PyTorch's approximate="tanh"):
//   0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), built from differentiable ops.
#pragma once

#include <string>

#include "flowtape/runtime/tensor.hpp"

namespace flowtape::nn {

enum class Activation { identity, relu, silu, tanh, gelu, softplus };

Tensor activate(Activation a, const Tensor& x);
Tensor gelu(const Tensor& x);  // tanh approximation

const char* activation_name(Activation a);
// "relu", "silu" (or "swish"), "tanh", "gelu", "softplus", "identity"; throws listing them.
Activation activation_from_name(const std::string& name);

}  // namespace flowtape::nn
