// SPDX-License-Identifier: MIT
// The creation functions declared in tensor.hpp: empty, full, zeros, ones, arange,
// from_vector, the random draws, copy and to_dtype.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "flowtape/runtime/backend.hpp"
#include "flowtape/runtime/object_pool.hpp"
#include "flowtape/runtime/random.hpp"
#include "flowtape/runtime/tensor.hpp"
#include "flowtape/runtime/uniform_bounds.hpp"

namespace flowtape {

Tensor empty(const Shape& shape, DType dtype, Device device) {
  // The byte count, checked: a shape whose element count or size wraps around std::size_t
  // would otherwise allocate a small block that the caller then overruns.
  // A zero extent anywhere makes it empty, whatever the other extents multiply to.
  std::size_t bytes = dtype_size(dtype);
  bool none = false;
  for (int d = 0; d < shape.rank(); ++d) none = none || shape[d] == 0;
  // No object may exceed PTRDIFF_MAX bytes (the allocators' size classes would wrap above it).
  for (int d = 0; d < shape.rank() && !none; ++d)
    if (shape[d] < 0 || __builtin_mul_overflow(bytes, static_cast<std::size_t>(shape[d]), &bytes) ||
        bytes > static_cast<std::size_t>(PTRDIFF_MAX))
      throw std::length_error("empty: a tensor of shape " + shape.str() + " and dtype " +
                              dtype_name(dtype) + " does not fit in memory");
  for (int d = 0; d < shape.rank(); ++d)
    if (shape[d] < 0)
      throw std::length_error("empty: a tensor of shape " + shape.str() + " has a negative extent");
  if (none) bytes = 0;
  auto impl = detail::make_pooled<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->device = device;
  impl->storage = detail::make_pooled<Storage>(bytes, device);
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  backend(device).fill(t, value);
  return t;
}

Tensor zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}

Tensor ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}
Tensor scalar(double value, DType dtype) {
  return full(Shape{}, value, dtype);
}
Tensor zeros_like(const Tensor& x) {
  return zeros(x.shape(), x.dtype(), x.device());
}
Tensor ones_like(const Tensor& x) {
  return ones(x.shape(), x.dtype(), x.device());
}
Tensor full_like(const Tensor& x, double v) {
  return full(x.shape(), v, x.dtype(), x.device());
}
Tensor scalar_like(const Tensor& x, double v) {
  return full(Shape{}, v, x.dtype(), x.device());
}

Tensor arange(double start, double stop, double step, DType dtype) {
  if (step == 0.0 || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
    throw std::invalid_argument("arange: start, stop and step must be finite and step non-zero");
  const double span = (stop - start) / step;
  // Converted only when it fits an extent: a span of 2^63 or more (or an overflow to inf, as
  // arange(-1e308, 1e308) makes) would be undefined behaviour as an integer.
  if (!(span < 0x1p62))
    throw std::length_error("arange: [" + std::to_string(start) + ", " + std::to_string(stop) +
                            ") in steps of " + std::to_string(step) + " has too many elements");
  const auto n = static_cast<std::int64_t>(std::max(0.0, std::ceil(span)));
  Tensor t = empty(Shape{n}, dtype);
  dispatch_any(dtype, [&]<class T>() {
    T* p = t.mutable_data<T>();
    for (std::int64_t i = 0; i < n; ++i)
      p[i] = convert_element<T>(start + static_cast<double>(i) * step, "arange");
  });
  return t;
}

Tensor arange(std::int64_t n, DType dtype) {
  return arange(0.0, static_cast<double>(n), 1.0, dtype);
}

Tensor from_vector(std::span<const double> values, const Shape& shape, DType dtype) {
  if (static_cast<std::int64_t>(values.size()) != shape.numel())
    throw std::invalid_argument("from_vector: " + std::to_string(values.size()) +
                                " values cannot fill shape " + shape.str() + " (" +
                                std::to_string(shape.numel()) + " elements)");
  Tensor t = empty(shape, dtype);
  dispatch_any(dtype, [&]<class T>() {
    T* p = t.mutable_data<T>();
    for (std::size_t i = 0; i < values.size(); ++i)
      p[i] = convert_element<T>(values[i], "from_vector");
  });
  return t;
}

Tensor from_vector(std::span<const float> values, const Shape& shape) {
  if (static_cast<std::int64_t>(values.size()) != shape.numel())
    throw std::invalid_argument("from_vector: " + std::to_string(values.size()) +
                                " values cannot fill shape " + shape.str());
  Tensor t = empty(shape, DType::f32);
  std::memcpy(t.mutable_raw_data(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  backend(device).fill_normal(t, gen);
  return t;
}

Tensor rand(const Shape& shape, Generator& gen, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  backend(device).fill_uniform(t, gen, 0.0, 1.0);
  return t;
}

Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype,
               Device device) {
  if (!(low < high) || !std::isfinite(low) || !std::isfinite(high))
    throw std::invalid_argument("uniform: need finite low < high, got [" + std::to_string(low) +
                                ", " + std::to_string(high) + ")");
  // Refused before anything is drawn (the generator stays where it was): a range holding no
  // value of the dtype.
  if (dtype == DType::f32 || dtype == DType::f64)
    dispatch(dtype, [&]<class T>() { (void)uniform_bounds<T>(low, high, dtype_name(dtype)); });
  Tensor t = empty(shape, dtype, device);
  backend(device).fill_uniform(t, gen, low, high);
  return t;
}

Tensor copy(const Tensor& x) {
  Tensor t = empty(x.shape(), x.dtype(), x.device());
  copy_bytes(t.mutable_raw_data(), x.device(), x.raw_data(), x.device(), x.nbytes());
  return t;
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return copy(x);
  Tensor t = empty(x.shape(), dtype, x.device());
  backend(x.device()).cast(x, t);
  return t;
}

}  // namespace flowtape
