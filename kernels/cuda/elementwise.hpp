// SPDX-License-Identifier: MIT
// Elementwise kernels on device buffers: unary maps, N-ary maps with NumPy broadcasting
// (planned exactly as on the CPU, kernels/cpu/broadcast.hpp), fill, arange and dtype casts.
// The op is a runtime code rather than a functor type so that this header stays plain C++;
// each code becomes its own template instantiation inside elementwise.cu.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "flowtape/kernels/unary_ops.hpp"

namespace flowtape::kernels::cuda {

// The same functions as kernels/cpu/math.hpp, with the same conventions (sign(0) = 0,
// comparisons give 1 or 0 in the operands' type, softplus never overflows): the unary table's
// rows (kernels/unary_ops.hpp), then silu, sign and pow with a scalar exponent.
#define FLOWTAPE_UNARY_CODE(name, ...) name,
enum class Unary { FLOWTAPE_UNARY_OPS(FLOWTAPE_UNARY_CODE) silu, sign, pow_scalar };
#undef FLOWTAPE_UNARY_CODE
// copy (N = 1) is broadcast_to; where (N = 3) is cond != 0 ? a : b. silu_grad(x, g) =
// g silu'(x) and silu_grad2(x, g) = g silu''(x), the fused derivatives of SiLU (autodiff's
// ops of those names).
enum class Nary { copy, add, sub, mul, div, greater, less, equal, silu_grad, silu_grad2, where };

// y[i] = op(x[i]); `scalar` is pow's exponent.
template <class T>
void unary(Unary op, const T* x, T* y, std::int64_t n, double scalar = 0.0);

// y[out_shape] = op(in_0, ..., in_{N-1}) with broadcasting; shapes right-aligned, rank <= 8.
// N = 1 accepts copy; N = 2 the binary codes; N = 3 where.
template <class T, std::size_t N>
void nary(Nary op, const std::array<const T*, N>& in,
          const std::array<const std::int64_t*, N>& shape, const std::array<int, N>& rank, T* y,
          const std::int64_t* out_shape, int out_rank);

template <class T>
void fill(T* y, std::int64_t n, T value);
// y[i] = start + i * step, computed in double as the CPU arange does.
template <class T>
void arange(T* y, std::int64_t n, double start, double step);
template <class S, class D>
void cast(const S* x, D* y, std::int64_t n);

}  // namespace flowtape::kernels::cuda
