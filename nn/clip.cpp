// clip_grad_norm.
#include "nn/clip.hpp"

#include <cmath>
#include <stdexcept>

#include "autodiff/ops.hpp"
#include "autodiff/tape.hpp"

namespace flowtape::nn {

double clip_grad_norm(std::vector<Tensor>& grads, double max_norm) {
  if (!(max_norm >= 0)) throw std::invalid_argument("clip_grad_norm: max_norm must be >= 0");
  double sq = 0;  // accumulated in double for f32 gradients too
  for (const Tensor& g : grads)
    dispatch(g.dtype(), [&]<class T>() {
      const T* d = g.data<T>();
      for (std::int64_t j = 0; j < g.numel(); ++j) sq += static_cast<double>(d[j]) * d[j];
    });
  const double total = std::sqrt(sq);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1) {
    NoGrad no_grad;
    for (Tensor& g : grads) g = copy(g * coef);
  }
  return total;
}

}  // namespace flowtape::nn
