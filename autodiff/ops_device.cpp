// SPDX-License-Identifier: MIT
// The op table, part 5: moving tensors between devices, plus the host-side device helpers
// declared in tensor.hpp (to_host, relocate, cuda_*). to_device is an ordinary primitive, so
// a loss computed on the GPU from host data differentiates back to the host with no extra
// code: its VJP is to_device back to the input's device and its JVP moves the tangent.
#include <cstring>
#include <memory>

#include "flowtape/autodiff/cuda_backend.hpp"
#include "flowtape/autodiff/object_pool.hpp"
#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/op_list.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/rules.hpp"

namespace flowtape {
namespace {

std::size_t nbytes(const Tensor& t) {
  return static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
}

}  // namespace

// The output is created by the forward (aliases_input stops apply() from allocating it on the
// input's device).
const OpDef op_to_device{
    "to_device",
    rules::same_shape,
    [](Inputs in, const Attrs& a, Outputs out) {
      out[0].impl()->device = a.device;
      out[0].impl()->storage = detail::make_pooled<Storage>(nbytes(in[0]), a.device);
      cuda_backend::copy_bytes(out[0].mutable_raw_data(), a.device, in[0].raw_data(),
                               in[0].device(), nbytes(in[0]));
    },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) { out[0] = to_device(g[0], s.in[0].device()); },
    /*aliases_input=*/true};

Tensor to_device(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  Attrs a;
  a.device = device;
  return apply(op_to_device, {x}, a);
}

Tensor Tensor::to(Device device) const {
  return to_device(*this, device);
}

Tensor to_host(const Tensor& x) {
  if (x.device() == Device::cpu) return x;
  Tensor t = empty(x.shape(), x.dtype(), Device::cpu);
  cuda_backend::copy_bytes(t.mutable_raw_data(), Device::cpu, x.raw_data(), x.device(), nbytes(x));
  return t;
}

void relocate(Tensor& x, Device device) {
  TensorImpl& impl = *x.impl();
  if (impl.device == device) return;
  auto storage = detail::make_pooled<Storage>(nbytes(x), device);
  storage->version = impl.storage->version + 1;  // a tape that kept x sees the move as a write
  cuda_backend::copy_bytes(storage->ptr, device, x.raw_data(), impl.device, nbytes(x));
  impl.storage = std::move(storage);
  impl.device = device;
  for (int k = 0; k < TensorImpl::kMaxJvpDepth; ++k) {
    Tensor tangent = impl.tangent(k);
    if (!tangent.defined()) continue;
    relocate(tangent, device);
  }
}

bool cuda_built() {
  return cuda_backend::built();
}
int cuda_device_count() {
  return cuda_backend::device_count();
}
void cuda_synchronize() {
  cuda_backend::synchronize();
}
std::uint64_t cuda_host_waits() {
  return cuda_backend::host_waits();
}
void cuda_empty_cache() {
  cuda_backend::empty_cache();
}

}  // namespace flowtape
