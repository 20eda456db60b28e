// SPDX-License-Identifier: MIT
// Tensor handles and their storage (the creation functions are in tensor_creation.cpp).
#include "flowtape/autodiff/tensor.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "flowtape/autodiff/allocator.hpp"
#include "flowtape/autodiff/cuda_backend.hpp"
#include "flowtape/autodiff/object_pool.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"

namespace flowtape {

namespace {
std::atomic<std::size_t> g_live_bytes{0};
}

std::size_t live_storage_bytes() { return g_live_bytes.load(std::memory_order_relaxed); }

Storage::Storage(std::size_t nbytes, Device dev) : bytes(nbytes), device(dev) {
  if (dev == Device::cuda) {  // the caching device allocator (throws without CUDA)
    ptr = cuda_backend::device_alloc(nbytes);
    g_live_bytes.fetch_add(bytes, std::memory_order_relaxed);
    return;
  }
  // From the caching allocator: a training step reuses the previous step's buffers instead of
  // calling malloc (and faulting in fresh pages) for every op. Always at least one cache line,
  // so even an empty tensor has a valid pointer.
  ptr = detail::cached_alloc(std::max<std::size_t>(nbytes, 1), capacity_);
  g_live_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

Storage::~Storage() {
  g_live_bytes.fetch_sub(bytes, std::memory_order_relaxed);
  if (device == Device::cuda)
    cuda_backend::device_free(ptr, bytes);
  else
    detail::cached_free(ptr, capacity_);
}

static const TensorImpl& checked(const std::shared_ptr<TensorImpl>& p) {
  if (!p) throw std::logic_error("flowtape: use of an undefined (default-constructed) Tensor");
  return *p;
}

const Shape& Tensor::shape() const { return checked(impl_).shape; }
DType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).device; }

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
    throw std::invalid_argument(std::string("Tensor::data: tensor has dtype ") + dtype_name(t.dtype) +
                                ", requested " + dtype_name(dtype_of<T>()));
  if (t.device != Device::cpu)
    throw std::invalid_argument("Tensor::data: tensor is on the cuda device; copy it to cpu first");
  return static_cast<const T*>(t.storage->ptr);
}

template float* Tensor::mutable_data<float>();
template double* Tensor::mutable_data<double>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;

void* Tensor::mutable_raw_data() {
  Storage& s = *checked(impl_).storage;
  ++s.version;
  return s.ptr;
}
const void* Tensor::raw_data() const { return checked(impl_).storage->ptr; }

double Tensor::at(std::int64_t i) const {
  if (i < 0 || i >= numel())
    throw std::out_of_range("Tensor::at: index " + std::to_string(i) + " out of range for shape " +
                            shape().str());
  if (device() == Device::cuda) {  // one element to the host (synchronises)
    double v = 0;
    dispatch(dtype(), [&]<class T>() {
      T e;
      cuda_backend::copy_bytes(&e, Device::cpu, static_cast<const T*>(raw_data()) + i, Device::cuda,
                               sizeof(T));
      v = static_cast<double>(e);
    });
    return v;
  }
  return dispatch(dtype(), [&]<class T>() { return static_cast<double>(data<T>()[i]); });
}

double Tensor::item() const {
  if (numel() != 1)
    throw std::invalid_argument("Tensor::item: tensor of shape " + shape().str() +
                                " has " + std::to_string(numel()) + " elements, not 1");
  return at(0);
}

std::vector<double> Tensor::to_vector() const {
  if (device() == Device::cuda) return to_host(*this).to_vector();
  std::vector<double> v(static_cast<std::size_t>(numel()));
  dispatch(dtype(), [&]<class T>() {
    const T* p = data<T>();
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(p[i]);
  });
  return v;
}

bool Tensor::has_tangent() const {
  return tangent().defined();
}
Tensor Tensor::tangent() const {
  const int depth = detail::tangent_depth();
  return impl_ && depth > 0 ? impl_->tangent(depth - 1) : Tensor();
}

std::string Tensor::str() const {
  if (!impl_) return "Tensor(undefined)";
  return std::string("Tensor(") + dtype_name(dtype()) + ", " + shape().str() +
         (device() == Device::cuda ? ", cuda" : "") + ")";
}

Tensor alias(const Tensor& x, int depth) {
  auto impl = detail::make_pooled<TensorImpl>(*x.impl());
  for (int k = std::max(depth, 1); k <= TensorImpl::kMaxJvpDepth; ++k)
    impl->set_tangent(k - 1, Tensor());
  return Tensor(std::move(impl));
}

}  // namespace flowtape
