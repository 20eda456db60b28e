// SPDX-License-Identifier: MIT
// The forwards of elementwise ops (not part of the public API), shared by ops_elementwise.cpp
// and ops_silu.cpp. Each names its CPU functor (kernels/cpu/math.hpp) and its CUDA op code;
// the output's device picks one.
#pragma once

#include <array>

#include "flowtape/autodiff/cuda_backend.hpp"
#include "flowtape/autodiff/op.hpp"
#include "flowtape/kernels/cpu/elementwise.hpp"
#include "flowtape/kernels/cpu/math.hpp"

namespace flowtape::rules {

template <class F, cuda_backend::Unary C>
void unary_forward(Inputs in, const Attrs&, Outputs out) {
  if (out[0].device() == Device::cuda) return cuda_backend::unary(C, in[0], out[0]);
  dispatch(out[0].dtype(), [&]<class T>() {
    kernels::cpu::map_unary(in[0].data<T>(), out[0].mutable_data<T>(), out[0].numel(), F{});
  });
}

template <std::size_t N, class F>
void nary_forward(Inputs in, F f, cuda_backend::Nary code, Tensor& out) {
  if (out.device() == Device::cuda) return cuda_backend::nary(code, in, out);
  dispatch(out.dtype(), [&]<class T>() {
    std::array<const T*, N> p;
    std::array<const std::int64_t*, N> s;
    std::array<int, N> r;
    for (std::size_t k = 0; k < N; ++k) {
      p[k] = in[k].data<T>();
      s[k] = in[k].shape().data();
      r[k] = in[k].rank();
    }
    kernels::cpu::map_broadcast<T, N>(p, s, r, out.mutable_data<T>(), out.shape().data(),
                                      out.rank(), f);
  });
}

template <class F, cuda_backend::Nary C>
void binary_forward(Inputs in, const Attrs&, Outputs out) {
  nary_forward<2>(in, F{}, C, out[0]);
}

}  // namespace flowtape::rules
