// SPDX-License-Identifier: MIT
// NamedTensors helpers.
#include "flowtape/nn/named_tensors.hpp"

#include <stdexcept>

#include "flowtape/runtime/backend.hpp"

namespace flowtape::nn {

const Tensor* find(const NamedTensors& named, const std::string& name) {
  for (const auto& [n, t] : named)
    if (n == name) return &t;
  return nullptr;
}

void copy_into(Tensor& dst, const Tensor& src) {
  if (!(dst.shape() == src.shape()) || dst.dtype() != src.dtype())
    throw std::invalid_argument("copy_into: destination " + dst.str() + " and source " + src.str() +
                                " differ");
  if (dst.raw_data() == src.raw_data()) return;
  // Distinct tensors' buffers never overlap (a view shares the whole buffer, so it is caught
  // above), so a plain copy, between any two devices, is safe.
  copy_bytes(dst.mutable_raw_data(), dst.device(), src.raw_data(), src.device(), src.nbytes());
}

}  // namespace flowtape::nn
