// SPDX-License-Identifier: MIT
// Tensor handles and their storage (the creation functions are in tensor_creation.cpp).
#include "flowtape/runtime/tensor.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "flowtape/runtime/backend.hpp"
#include "flowtape/runtime/object_pool.hpp"

namespace flowtape {

namespace {
std::atomic<std::size_t> g_live_bytes{0};
}

std::size_t live_storage_bytes() {
  return g_live_bytes.load(std::memory_order_relaxed);
}

// Always at least one byte, so even an empty tensor has a valid pointer.
Storage::Storage(std::size_t nbytes, Device dev) : bytes(nbytes), device(dev) {
  ptr = backend(dev).allocate(std::max<std::size_t>(nbytes, 1), capacity_);
  g_live_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

Storage::~Storage() {
  g_live_bytes.fetch_sub(bytes, std::memory_order_relaxed);
  backend(device).deallocate(ptr, capacity_);
}

static const TensorImpl& checked(const std::shared_ptr<TensorImpl>& p) {
  if (!p) throw std::logic_error("flowtape: use of an undefined (default-constructed) Tensor");
  return *p;
}

const Shape& Tensor::shape() const {
  return checked(impl_).shape;
}
DType Tensor::dtype() const {
  return checked(impl_).dtype;
}
Device Tensor::device() const {
  return checked(impl_).device;
}

std::int64_t Tensor::size(int axis) const {
  return shape()[normalize_axis(axis, shape(), "Tensor::size")];
}

template <class T>
T* Tensor::mutable_data() {
  T* p = const_cast<T*>(static_cast<const Tensor*>(this)->data<T>());
  ++impl_->storage->version;
  return p;
}

template <class T>
const T* Tensor::data() const {
  const TensorImpl& t = checked(impl_);
  if (t.dtype != dtype_of<T>())
    throw std::invalid_argument(std::string("Tensor::data: tensor has dtype ") +
                                dtype_name(t.dtype) + ", requested " + dtype_name(dtype_of<T>()));
  if (t.device != Device::cpu)
    throw std::invalid_argument("Tensor::data: tensor is on the cuda device; copy it to cpu first");
  return static_cast<const T*>(t.storage->ptr);
}

template float* Tensor::mutable_data<float>();
template double* Tensor::mutable_data<double>();
template std::int64_t* Tensor::mutable_data<std::int64_t>();
template bool* Tensor::mutable_data<bool>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template const std::int64_t* Tensor::data<std::int64_t>() const;
template const bool* Tensor::data<bool>() const;

void* Tensor::mutable_raw_data() {
  Storage& s = *checked(impl_).storage;
  ++s.version;
  return s.ptr;
}
const void* Tensor::raw_data() const {
  return checked(impl_).storage->ptr;
}

double Tensor::at(std::int64_t i) const {
  if (i < 0 || i >= numel())
    throw std::out_of_range("Tensor::at: index " + std::to_string(i) + " out of range for shape " +
                            shape().str());
  // One element to the host (which waits for a device).
  return dispatch_any(dtype(), [&]<class T>() {
    T e;
    copy_bytes(&e, Device::cpu, static_cast<const T*>(raw_data()) + i, device(), sizeof(T));
    return static_cast<double>(e);
  });
}

double Tensor::item() const {
  if (numel() != 1)
    throw std::invalid_argument("Tensor::item: tensor of shape " + shape().str() + " has " +
                                std::to_string(numel()) + " elements, not 1");
  return at(0);
}

std::vector<double> Tensor::to_vector() const {
  if (device() != Device::cpu) return to_host(*this).to_vector();
  std::vector<double> v(static_cast<std::size_t>(numel()));
  dispatch_any(dtype(), [&]<class T>() {
    const T* p = data<T>();
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(p[i]);
  });
  return v;
}

std::string Tensor::str() const {
  if (!impl_) return "Tensor(undefined)";
  return std::string("Tensor(") + dtype_name(dtype()) + ", " + shape().str() +
         (device() == Device::cpu ? "" : std::string(", ") + device_name(device())) + ")";
}

namespace detail {
std::uint64_t* jvp_generations() {
  thread_local std::uint64_t generations[kJvpDepths] = {};
  return generations;
}
}  // namespace detail

Tensor alias(const Tensor& x, int depth) {
  if (!x.defined()) throw std::invalid_argument("alias: undefined tensor");
  auto impl = detail::make_pooled<TensorImpl>(*x.impl());
  for (int k = std::max(depth, 1); k <= TensorImpl::kMaxJvpDepth; ++k)
    impl->set_tangent(k - 1, Tensor());
  return Tensor(std::move(impl));
}

}  // namespace flowtape
