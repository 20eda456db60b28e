// SPDX-License-Identifier: MIT
// The op table, part 5: moving tensors between devices (the detached moves, to_host and
// relocate, are the runtime's: runtime/device.cpp). to_device is an ordinary primitive, so
// a loss computed on the GPU from host data differentiates back to the host with no extra
// code: its VJP is to_device back to the input's device and its JVP moves the tangent.
#include <cstring>
#include <memory>

#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/op_list.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/rules.hpp"
#include "flowtape/runtime/backend.hpp"
#include "flowtape/runtime/object_pool.hpp"

namespace flowtape {
// The output is created by the forward (aliases_input stops apply() from allocating it on the
// input's device).
const OpDef op_to_device{
    "to_device",
    rules::same_shape,
    [](Inputs in, const Attrs& a, Outputs out) {
      out[0].impl()->device = a.device;
      out[0].impl()->storage = detail::make_pooled<Storage>(in[0].nbytes(), a.device);
      copy_bytes(out[0].mutable_raw_data(), a.device, in[0].raw_data(), in[0].device(),
                 in[0].nbytes());
    },
    rules::linear_jvp,
    [](const Saved& s, Inputs g, Grads& out) { out[0] = to_device(g[0], s.in[0].device()); },
    rules::any_dtype,
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

}  // namespace flowtape
