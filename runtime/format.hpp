// SPDX-License-Identifier: MIT
// Printing a tensor's values, the way NumPy and PyTorch do: nested brackets, one column width
// per tensor, and large tensors summarised by their first and last few entries per axis.
//   std::cout << x;                              // tensor([[ 0.1234, -1.5000], ...], f32)
//   format(x, {.precision = 6, .threshold = 50});
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "flowtape/runtime/tensor.hpp"

namespace flowtape {

struct PrintOptions {
  int precision = 4;              // digits after the point, 0 to 30
  std::int64_t threshold = 1000;  // more elements than this: summarise with "..."
  std::int64_t edge_items = 3;    // entries shown at each end of a summarised axis
};

// The values (copied to the host for a cuda tensor), then dtype, and device when not cpu.
std::string format(const Tensor& x, const PrintOptions& options = {});
std::ostream& operator<<(std::ostream& os, const Tensor& x);

}  // namespace flowtape
