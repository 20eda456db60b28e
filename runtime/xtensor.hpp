// SPDX-License-Identifier: MIT
// Conversions between flowtape tensors and xtensor containers, so users handle data, metrics
// and plots with xtensor. view() wraps a CPU tensor's buffer without copying.
#pragma once

#include <stdexcept>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include "flowtape/runtime/tensor.hpp"

namespace flowtape {

// A copy of x as an xarray of T (converting the dtype if needed).
template <class T>
xt::xarray<T> to_xarray(const Tensor& x) {
  const Tensor src = x.dtype() == dtype_of<T>() ? x : to_dtype(x, dtype_of<T>());
  std::vector<std::size_t> shape(x.shape().begin(), x.shape().end());
  xt::xarray<T> out = xt::xarray<T>::from_shape(shape);
  std::copy(src.data<T>(), src.data<T>() + src.numel(), out.begin());
  return out;
}

// A new tensor holding a copy of any xtensor expression's values.
template <class E>
Tensor from_xtensor(const xt::xexpression<E>& expr) {
  using T = typename E::value_type;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "flowtape tensors hold float or double");
  const xt::xarray<T> a = expr;  // evaluates into row-major storage
  Shape s;
  for (auto d : a.shape()) s.push_back(static_cast<std::int64_t>(d));
  Tensor t = empty(s, dtype_of<T>());
  std::copy(a.begin(), a.end(), t.mutable_data<T>());
  return t;
}

// An xtensor view of x's buffer (no copy); it must not outlive x. Writes go to the tensor, and
// making a writable view counts as a write (mutable_data): a tape checks versions when the view
// is made, so write through a view made after recording, not one kept from before.
template <class T>
auto view(Tensor& x) {
  std::vector<std::size_t> shape(x.shape().begin(), x.shape().end());
  return xt::adapt(x.mutable_data<T>(), static_cast<std::size_t>(x.numel()), xt::no_ownership(),
                   shape);
}
// A read-only view (not a write).
template <class T>
auto view(const Tensor& x) {
  std::vector<std::size_t> shape(x.shape().begin(), x.shape().end());
  return xt::adapt(x.data<T>(), static_cast<std::size_t>(x.numel()), xt::no_ownership(), shape);
}

}  // namespace flowtape
