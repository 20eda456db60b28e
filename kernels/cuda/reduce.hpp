// SPDX-License-Identifier: MIT
// Reductions along one axis of a contiguous device buffer viewed as [outer, len, inner]:
// sum, max (NaN propagates), log-sum-exp (shifted by the maximum; an all -inf slice gives
// -inf) and softmax, with the same semantics as kernels/cpu/reduce.hpp.
#pragma once

#include <cstdint>

namespace flowtape::kernels::cuda {

enum class Reduce { sum, max, logsumexp, softmax };

// sum / max / logsumexp: y is [outer, inner]; softmax: y is [outer, len, inner].
template <class T>
void reduce_axis(Reduce op, const T* x, T* y, std::int64_t outer, std::int64_t len,
                 std::int64_t inner);

}  // namespace flowtape::kernels::cuda
