// SPDX-License-Identifier: MIT
// Linear layer.
#include "flowtape/nn/linear.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/ops.hpp"

namespace flowtape::nn {

Linear::Linear(std::int64_t in, std::int64_t out, Generator& gen, bool has_bias, DType dtype)
    : in_(in), out_(out) {
  if (in <= 0 || out <= 0)
    throw std::invalid_argument("Linear: sizes must be positive, got in=" + std::to_string(in) +
                                ", out=" + std::to_string(out));
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight = register_parameter("weight", uniform({out, in}, -bound, bound, gen, dtype));
  if (has_bias) bias = register_parameter("bias", uniform({out}, -bound, bound, gen, dtype));
}

Tensor Linear::operator()(const Tensor& x) const {
  if (x.rank() < 1 || x.size(-1) != in_)
    throw std::invalid_argument("Linear: input " + x.str() +
                                " does not end in in_features=" + std::to_string(in_));
  // The common 2-D case with a bias is the fused primitive (one GEMM onto the bias rows).
  if (x.rank() == 2 && bias.defined()) return linear(x, weight, bias);
  // One sample [in] as a batch of one (matmul takes no vector).
  if (x.rank() == 1) return reshape((*this)(reshape(x, Shape{1, in_})), Shape{weight.size(0)});
  Tensor y = matmul(x, weight, false, true);
  return bias.defined() ? y + bias : y;
}

Tensor Linear::operator()(const Tensor& x, Activation a) const {
  if (a == Activation::silu && x.rank() == 2 && x.size(-1) == in_ && bias.defined())
    return linear_silu(x, weight, bias);
  return activate(a, (*this)(x));
}

}  // namespace flowtape::nn
