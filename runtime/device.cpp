// SPDX-License-Identifier: MIT
// The detached moves between devices declared in tensor.hpp: to_host and relocate. (The
// differentiable move, to_device, is an autodiff primitive.)
#include <memory>
#include <stdexcept>

#include "flowtape/runtime/backend.hpp"
#include "flowtape/runtime/object_pool.hpp"
#include "flowtape/runtime/tensor.hpp"

namespace flowtape {
Tensor to_host(const Tensor& x) {
  if (x.device() == Device::cpu) return x;
  Tensor t = empty(x.shape(), x.dtype(), Device::cpu);
  copy_bytes(t.mutable_raw_data(), Device::cpu, x.raw_data(), x.device(), x.nbytes());
  return t;
}

void relocate(Tensor& x, Device device) {
  if (!x.defined()) throw std::invalid_argument("relocate: undefined tensor");
  TensorImpl& impl = *x.impl();
  if (impl.device == device) return;
  auto storage = detail::make_pooled<Storage>(x.nbytes(), device);
  storage->version = impl.storage->version + 1;  // a tape that kept x sees the move as a write
  copy_bytes(storage->ptr, device, x.raw_data(), impl.device, x.nbytes());
  impl.storage = std::move(storage);
  impl.device = device;
  for (int k = 0; k < TensorImpl::kMaxJvpDepth; ++k) {
    Tensor tangent = impl.tangent(k);
    if (!tangent.defined()) continue;
    relocate(tangent, device);
  }
}

}  // namespace flowtape
