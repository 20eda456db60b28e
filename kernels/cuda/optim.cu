// SPDX-License-Identifier: MIT
// Fused Adam and SGD updates (see optim.hpp): one pass over p, g and the state, one thread
// per element, no temporaries.
#include "flowtape/kernels/cuda/launch.cuh"
#include "flowtape/kernels/cuda/optim.hpp"

namespace flowtape::kernels::cuda {

namespace {

template <class T>
__global__ void adam_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m,
                            T* __restrict__ v, std::int64_t n, AdamScalars<T> s) {
  FLOWTAPE_GRID_STRIDE(j, n) {
    const T pj = p[j];
    const T gj = g[j] + s.l2 * pj;
    const T mj = s.b1 * m[j] + s.c1 * gj;
    const T vj = s.b2 * v[j] + s.c2 * gj * gj;
    m[j] = mj;
    v[j] = vj;
    p[j] = pj * s.shrink - s.step_size * mj / (sqrt(vj) / s.root_bc2 + s.eps);
  }
}

template <class T>
__global__ void sgd_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ buf,
                           std::int64_t n, T lr, T wd, T mu, bool nesterov) {
  FLOWTAPE_GRID_STRIDE(j, n) {
    T d = g[j] + wd * p[j];
    if (buf) {
      const T b = mu * buf[j] + d;
      buf[j] = b;
      d = nesterov ? d + mu * b : b;
    }
    p[j] -= lr * d;
  }
}

}  // namespace

template <class T>
void adam_update(T* p, const T* g, T* m, T* v, std::int64_t n, const AdamScalars<T>& s) {
  if (n == 0) return;
  adam_kernel<T><<<grid_for(n), kThreads>>>(p, g, m, v, n, s);
  check_launch("adam kernel");
}

template <class T>
void sgd_update(T* p, const T* g, T* buf, std::int64_t n, T lr, T wd, T mu, bool nesterov) {
  if (n == 0) return;
  sgd_kernel<T><<<grid_for(n), kThreads>>>(p, g, buf, n, lr, wd, mu, nesterov);
  check_launch("sgd kernel");
}

template void adam_update<float>(float*, const float*, float*, float*, std::int64_t,
                                 const AdamScalars<float>&);
template void adam_update<double>(double*, const double*, double*, double*, std::int64_t,
                                  const AdamScalars<double>&);
template void sgd_update<float>(float*, const float*, float*, std::int64_t, float, float, float,
                                bool);
template void sgd_update<double>(double*, const double*, double*, std::int64_t, double, double,
                                 double, bool);

}  // namespace flowtape::kernels::cuda
