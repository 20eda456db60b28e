// SPDX-License-Identifier: MIT
// backend(device): the one place that maps a device to its implementation.
#include "flowtape/runtime/backend.hpp"

namespace flowtape {

namespace detail {
Backend& cpu_backend();   // cpu_backend.cpp
Backend& cuda_backend();  // cuda_backend.cpp, or cuda_backend_stub.cpp without CUDA
}  // namespace detail

Backend& backend(Device device) {
  return device == Device::cpu ? detail::cpu_backend() : detail::cuda_backend();
}

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t bytes) {
  // The device end's backend does the copy (either, between two cpu buffers).
  backend(dst_dev != Device::cpu ? dst_dev : src_dev).copy(dst, dst_dev, src, src_dev, bytes);
}

}  // namespace flowtape
