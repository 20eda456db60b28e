// SPDX-License-Identifier: MIT
// Reading NumPy .npy files (format versions 1.0 to 3.0), strictly: little-endian float32,
// float64, int32 or int64 arrays of one or two axes in C order (np.save's default). The header
// is parsed in full; the shape's size must match the bytes that follow exactly; sizes are
// checked against a bound and the file before anything is allocated. Errors name the file and
// the byte offset ("points.npy: byte 8: ...").
#pragma once

#include <cstdint>
#include <istream>
#include <stdexcept>
#include <string>

#include "flowtape/runtime/tensor.hpp"

namespace flowtape::flows {

class NpyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NpyOptions {
  std::int64_t max_values = std::int64_t{1} << 28;  // elements; 2 GiB of float64
};

// The array as a tensor: float32 -> f32, float64 -> f64, int32 and int64 -> i64.
Tensor read_npy(const std::string& path, const NpyOptions& options = {});
// The same from a stream; `source` names it in errors. `available` is the number of bytes the
// stream holds from its start, when known (a regular file), or -1.
Tensor parse_npy(std::istream& in, const std::string& source, std::int64_t available = -1,
                 const NpyOptions& options = {});

}  // namespace flowtape::flows
