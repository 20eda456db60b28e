// SPDX-License-Identifier: MIT
// clip_grad_norm.
#include "flowtape/nn/clip.hpp"

#include <cmath>
#include <stdexcept>

#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"
#include "flowtape/runtime/backend.hpp"

namespace flowtape::nn {

double clip_grad_norm(std::vector<Tensor>& grads, double max_norm) {
  if (!(max_norm >= 0)) throw std::invalid_argument("clip_grad_norm: max_norm must be >= 0");
  // Each gradient's sum of squares in double, where it lives (its backend), added there and
  // read once: on a device, the one wait that clipping costs (the norm decides whether to
  // scale, and is returned).
  double sq = 0;
  {
    NoGrad no_grad;
    Tensor partial;
    for (const Tensor& g : grads) {
      const Tensor s = backend_of(g).sum_of_squares(g);
      partial = partial.defined() ? partial + s : s;
    }
    if (partial.defined()) sq = partial.item();
  }
  const double total = std::sqrt(sq);
  const double coef = max_norm / (total + 1e-6);
  // As PyTorch's: a NaN norm (a NaN entry) scales every gradient by NaN, and an infinite one
  // (an infinite entry, or finite squares that overflow) by 0, which leaves inf entries NaN;
  // no finite gradient is left unclipped beside a broken one.
  if (!(coef >= 1)) {
    NoGrad no_grad;
    for (Tensor& g : grads) g = copy(g * coef);
  }
  return total;
}

}  // namespace flowtape::nn
