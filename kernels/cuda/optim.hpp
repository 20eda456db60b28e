// SPDX-License-Identifier: MIT
// Fused optimizer updates on device buffers, one kernel per parameter tensor, with the
// arithmetic of nn/optimizer.cpp's CPU loops (the host computes the scalar factors in double,
// as PyTorch does, and passes them rounded to T).
#pragma once

#include <cstdint>

namespace flowtape::kernels::cuda {

template <class T>
struct AdamScalars {
  T b1, b2;     // beta1, beta2
  T c1, c2;     // 1 - beta1, 1 - beta2 (computed in double, then rounded)
  T l2;         // L2 coefficient added to the gradient (Adam), 0 for AdamW
  T shrink;     // decoupled decay factor 1 - lr * wd (AdamW), 1 for Adam
  T step_size;  // lr / (1 - beta1^t)
  T root_bc2;   // sqrt(1 - beta2^t)
  T eps;
};

// m = b1 m + c1 g';  v = b2 v + c2 g'^2;  p = p shrink - step_size m / (sqrt(v) / root_bc2 + eps)
// with g' = g + l2 p.
template <class T>
void adam_update(T* p, const T* g, T* m, T* v, std::int64_t n, const AdamScalars<T>& s);

// d = g + wd p; with momentum: buf = mu buf + d, d = nesterov ? d + mu buf : buf; p -= lr d.
// buf may be null (no momentum).
template <class T>
void sgd_update(T* p, const T* g, T* buf, std::int64_t n, T lr, T wd, T mu, bool nesterov);

}  // namespace flowtape::kernels::cuda
