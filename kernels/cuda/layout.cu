// SPDX-License-Identifier: MIT
// Data movement (see layout.hpp). Slices, pads and concatenations are strided block copies,
// which cudaMemcpy2DAsync does at copy-engine speed: `outer` rows of one contiguous chunk
// each, with different pitches on the two sides. Only permute needs a kernel.
#include <array>
#include <cstdint>
#include <stdexcept>

#include "flowtape/kernels/cuda/check.hpp"
#include "flowtape/kernels/cuda/launch.cuh"
#include "flowtape/kernels/cuda/layout.hpp"

namespace flowtape::kernels::cuda {

namespace {

struct PermutePlan {
  int rank;
  std::int64_t y_shape[8];
  std::int64_t src_stride[8];  // x's stride along y's axis d
};

// One thread per output element; reads are gathered, writes coalesced.
template <class E>
__global__ void permute_kernel(const E* __restrict__ x, E* __restrict__ y, PermutePlan p,
                               std::int64_t n) {
  FLOWTAPE_GRID_STRIDE(i, n) {
    std::int64_t rest = i, off = 0;
    for (int d = p.rank - 1; d >= 0; --d) {
      off += (rest % p.y_shape[d]) * p.src_stride[d];
      rest /= p.y_shape[d];
    }
    y[i] = x[off];
  }
}

// `rows` rows of `width` bytes from src (row pitch spitch) to dst (row pitch dpitch).
void copy_rows(void* dst, std::size_t dpitch, const void* src, std::size_t spitch,
               std::size_t width, std::int64_t rows) {
  if (width == 0 || rows == 0) return;
  if (rows == 1 || (dpitch == width && spitch == width)) {
    check(cudaMemcpyAsync(dst, src, width * static_cast<std::size_t>(rows),
                          cudaMemcpyDeviceToDevice, 0),
          "layout copy");
    return;
  }
  // A 2-D copy takes pitches up to the device's memPitch (2^31 - 1 bytes on current cards);
  // rows wider than that are copied one at a time.
  constexpr std::size_t kMostPitch = (std::size_t{1} << 31) - 1;
  if (dpitch > kMostPitch || spitch > kMostPitch) {
    for (std::int64_t r = 0; r < rows; ++r)
      check(cudaMemcpyAsync(static_cast<char*>(dst) + static_cast<std::size_t>(r) * dpitch,
                            static_cast<const char*>(src) + static_cast<std::size_t>(r) * spitch,
                            width, cudaMemcpyDeviceToDevice, 0),
            "layout row copy");
    return;
  }
  check(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, static_cast<std::size_t>(rows),
                          cudaMemcpyDeviceToDevice, 0),
        "layout 2-D copy");
}

}  // namespace

void permute(const void* x, void* y, std::size_t elem_size, std::span<const std::int64_t> x_shape,
             std::span<const std::int64_t> perm) {
  const int rank = static_cast<int>(x_shape.size());
  if (rank > 8) throw std::invalid_argument("flowtape cuda: permute supports rank <= 8");
  std::array<std::int64_t, 8> x_stride{};
  std::int64_t s = 1;
  for (int d = rank - 1; d >= 0; --d) {
    x_stride[d] = s;
    s *= x_shape[d];
  }
  const std::int64_t n = s;
  if (n == 0) return;
  PermutePlan p{};
  p.rank = rank;
  for (int d = 0; d < rank; ++d) {
    p.y_shape[d] = x_shape[perm[d]];
    p.src_stride[d] = x_stride[perm[d]];
  }
  if (elem_size == 4)
    permute_kernel<std::uint32_t><<<grid_for(n), kThreads>>>(static_cast<const std::uint32_t*>(x),
                                                             static_cast<std::uint32_t*>(y), p, n);
  else if (elem_size == 8)
    permute_kernel<std::uint64_t><<<grid_for(n), kThreads>>>(static_cast<const std::uint64_t*>(x),
                                                             static_cast<std::uint64_t*>(y), p, n);
  else if (elem_size == 1)  // boolean
    permute_kernel<std::uint8_t><<<grid_for(n), kThreads>>>(static_cast<const std::uint8_t*>(x),
                                                            static_cast<std::uint8_t*>(y), p, n);
  else
    throw std::invalid_argument("flowtape cuda: permute supports 1-, 4- and 8-byte elements");
  check_launch("permute kernel");
}

void slice_axis(const void* x, void* y, std::size_t elem_size, std::int64_t outer, std::int64_t len,
                std::int64_t inner, std::int64_t start, std::int64_t count) {
  const auto es = static_cast<std::int64_t>(elem_size);
  copy_rows(y, static_cast<std::size_t>(count * inner * es),
            static_cast<const char*>(x) + start * inner * es,
            static_cast<std::size_t>(len * inner * es),
            static_cast<std::size_t>(count * inner * es), outer);
}

void pad_axis(const void* x, void* y, std::size_t elem_size, std::int64_t outer, std::int64_t len,
              std::int64_t inner, std::int64_t start, std::int64_t count) {
  const auto es = static_cast<std::int64_t>(elem_size);
  zero_device(y, static_cast<std::size_t>(outer * len * inner * es));
  copy_rows(static_cast<char*>(y) + start * inner * es, static_cast<std::size_t>(len * inner * es),
            x, static_cast<std::size_t>(count * inner * es),
            static_cast<std::size_t>(count * inner * es), outer);
}

void concat_axis(std::span<const void* const> parts, std::span<const std::int64_t> lens, void* y,
                 std::size_t elem_size, std::int64_t outer, std::int64_t inner) {
  const auto es = static_cast<std::int64_t>(elem_size);
  std::int64_t total = 0;
  for (std::int64_t l : lens) total += l;
  std::int64_t start = 0;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    const auto width = static_cast<std::size_t>(lens[p] * inner * es);
    copy_rows(static_cast<char*>(y) + start * inner * es,
              static_cast<std::size_t>(total * inner * es), parts[p], width, width, outer);
    start += lens[p];
  }
}

}  // namespace flowtape::kernels::cuda
