// SPDX-License-Identifier: MIT
// Data movement on contiguous row-major buffers, independent of element type: axis
// permutation, slicing and zero-padding along one axis, and concatenation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace flowtape::kernels::cpu {

// y = x with axes permuted: y's axis d is x's axis perm[d].
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

}  // namespace flowtape::kernels::cpu
