// SPDX-License-Identifier: MIT
// NamedTensors helpers.
#include "flowtape/nn/named_tensors.hpp"

#include <cstring>
#include <stdexcept>

#include "flowtape/autodiff/cuda_backend.hpp"

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
  if (dst.device() == Device::cuda || src.device() == Device::cuda) {
    if (dst.raw_data() == src.raw_data()) return;
    // Distinct tensors' buffers never overlap, so a plain copy between devices is safe.
    return cuda_backend::copy_bytes(
        dst.mutable_raw_data(), dst.device(), src.raw_data(), src.device(),
        static_cast<std::size_t>(src.numel()) * dtype_size(src.dtype()));
  }
  // memmove: a source that shares dst's buffer is harmless.
  std::memmove(dst.mutable_raw_data(), src.raw_data(),
               static_cast<std::size_t>(src.numel()) * dtype_size(src.dtype()));
}

}  // namespace flowtape::nn
