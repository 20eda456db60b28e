// SPDX-License-Identifier: MIT
// Activation dispatch; the functions themselves are autodiff primitives (gelu is a composite).
#include "flowtape/nn/activation.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>

#include "flowtape/autodiff/ops.hpp"

namespace flowtape::nn {

Tensor gelu(const Tensor& x) {
  const double c = std::sqrt(2.0 / std::numbers::pi);
  return 0.5 * x * (1.0 + flowtape::tanh(c * (x + 0.044715 * x * square(x))));
}

Tensor activate(Activation a, const Tensor& x) {
  switch (a) {
    case Activation::identity:
      return x;
    case Activation::relu:
      return relu(x);
    case Activation::silu:
      return silu(x);
    case Activation::tanh:
      return flowtape::tanh(x);
    case Activation::gelu:
      return gelu(x);
    case Activation::softplus:
      return softplus(x);
  }
  throw std::invalid_argument("activate: unknown activation");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::identity:
      return "identity";
    case Activation::relu:
      return "relu";
    case Activation::silu:
      return "silu";
    case Activation::tanh:
      return "tanh";
    case Activation::gelu:
      return "gelu";
    case Activation::softplus:
      return "softplus";
  }
  return "?";
}

Activation activation_from_name(const std::string& name) {
  if (name == "identity") return Activation::identity;
  if (name == "relu") return Activation::relu;
  if (name == "silu" || name == "swish") return Activation::silu;
  if (name == "tanh") return Activation::tanh;
  if (name == "gelu") return Activation::gelu;
  if (name == "softplus") return Activation::softplus;
  throw std::invalid_argument("unknown activation '" + name +
                              "'; expected one of identity, relu, silu, tanh, gelu, softplus");
}

}  // namespace flowtape::nn
