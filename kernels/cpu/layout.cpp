// SPDX-License-Identifier: MIT
// Data movement kernels: memcpy of the largest contiguous chunks each layout allows.
#include "flowtape/kernels/cpu/layout.hpp"

#include <array>
#include <cstring>

namespace flowtape::kernels::cpu {

void permute(const void* x, void* y, std::size_t elem_size, std::span<const std::int64_t> x_shape,
             std::span<const std::int64_t> perm) {
  const int rank = static_cast<int>(x_shape.size());
  std::array<std::int64_t, 8> x_stride{}, y_shape{}, src_stride{};
  std::int64_t s = 1;
  for (int d = rank - 1; d >= 0; --d) {
    x_stride[d] = s;
    s *= x_shape[d];
  }
  const std::int64_t total = s;
  for (int d = 0; d < rank; ++d) {
    y_shape[d] = x_shape[perm[d]];
    src_stride[d] = x_stride[perm[d]];
  }
  const auto* src = static_cast<const unsigned char*>(x);
  auto* dst = static_cast<unsigned char*>(y);
  if (total == 0) return;
  if (rank == 0) {
    std::memcpy(dst, src, elem_size);
    return;
  }
  std::array<std::int64_t, 8> idx{};
  std::int64_t off = 0;
  const std::int64_t n_inner = y_shape[rank - 1];
  const std::int64_t inner_stride = src_stride[rank - 1];
  for (std::int64_t out = 0; out < total; out += n_inner) {
    if (inner_stride == 1) {
      std::memcpy(dst + out * elem_size, src + off * elem_size, n_inner * elem_size);
    } else {
      for (std::int64_t j = 0; j < n_inner; ++j)
        std::memcpy(dst + (out + j) * elem_size, src + (off + j * inner_stride) * elem_size, elem_size);
    }
    for (int d = rank - 2; d >= 0; --d) {
      ++idx[d];
      off += src_stride[d];
      if (idx[d] < y_shape[d]) break;
      off -= src_stride[d] * y_shape[d];
      idx[d] = 0;
    }
  }
}

void slice_axis(const void* x, void* y, std::size_t elem_size, std::int64_t outer, std::int64_t len,
                std::int64_t inner, std::int64_t start, std::int64_t count) {
  const auto* src = static_cast<const unsigned char*>(x);
  auto* dst = static_cast<unsigned char*>(y);
  const std::size_t chunk = static_cast<std::size_t>(count * inner) * elem_size;
  for (std::int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + o * chunk, src + ((o * len + start) * inner) * elem_size, chunk);
}

void pad_axis(const void* x, void* y, std::size_t elem_size, std::int64_t outer, std::int64_t len,
              std::int64_t inner, std::int64_t start, std::int64_t count) {
  const auto* src = static_cast<const unsigned char*>(x);
  auto* dst = static_cast<unsigned char*>(y);
  std::memset(dst, 0, static_cast<std::size_t>(outer * len * inner) * elem_size);
  const std::size_t chunk = static_cast<std::size_t>(count * inner) * elem_size;
  for (std::int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + ((o * len + start) * inner) * elem_size, src + o * chunk, chunk);
}

void concat_axis(std::span<const void* const> parts, std::span<const std::int64_t> lens, void* y,
                 std::size_t elem_size, std::int64_t outer, std::int64_t inner) {
  std::int64_t total_len = 0;
  for (std::int64_t l : lens) total_len += l;
  auto* dst = static_cast<unsigned char*>(y);
  std::int64_t start = 0;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    const auto* src = static_cast<const unsigned char*>(parts[p]);
    const std::size_t chunk = static_cast<std::size_t>(lens[p] * inner) * elem_size;
    for (std::int64_t o = 0; o < outer; ++o)
      std::memcpy(dst + ((o * total_len + start) * inner) * elem_size, src + o * chunk, chunk);
    start += lens[p];
  }
}

}  // namespace flowtape::kernels::cpu
