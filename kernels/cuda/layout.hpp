// SPDX-License-Identifier: MIT
// Data movement on contiguous row-major device buffers, independent of element type: the
// same four functions, with the same signatures and meaning, as kernels/cpu/layout.hpp.
// All are asynchronous on the stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace flowtape::kernels::cuda {

// y = x with axes permuted: y's axis d is x's axis perm[d]. Rank <= 8; elem_size 1, 4 or 8.
void permute(const void* x, void* y, std::size_t elem_size, std::span<const std::int64_t> x_shape,
             std::span<const std::int64_t> perm);

// x viewed as [outer, len, inner]; y = x[:, start:start+count, :], y is [outer, count, inner].
void slice_axis(const void* x, void* y, std::size_t elem_size, std::int64_t outer, std::int64_t len,
                std::int64_t inner, std::int64_t start, std::int64_t count);

// The adjoint of slice_axis: y is [outer, len, inner] of zeros with x written at start.
void pad_axis(const void* x, void* y, std::size_t elem_size, std::int64_t outer, std::int64_t len,
              std::int64_t inner, std::int64_t start, std::int64_t count);

// y viewed as [outer, sum(lens), inner] receives part p ([outer, lens[p], inner]) in order.
void concat_axis(std::span<const void* const> parts, std::span<const std::int64_t> lens, void* y,
                 std::size_t elem_size, std::int64_t outer, std::int64_t inner);

}  // namespace flowtape::kernels::cuda
