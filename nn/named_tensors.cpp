// NamedTensors helpers.
#include "nn/named_tensors.hpp"

#include <cstring>
#include <stdexcept>

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
  // memmove: a source that shares dst's buffer is harmless.
  std::memmove(dst.raw_data(), src.raw_data(),
               static_cast<std::size_t>(src.numel()) * dtype_size(src.dtype()));
}

}  // namespace flowtape::nn
