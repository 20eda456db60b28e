// SPDX-License-Identifier: MIT
// The tensor printer (format.hpp). Numbers are written in fixed notation, or in scientific
// notation where fixed would hide digits (NumPy's rule, on the nonzero finite magnitudes
// shown: the largest is 1e8 or more, the smallest is below 1e-4, or they differ by more than
// 1e3), and padded to one width so that columns line up. Integers print as integers and
// booleans as true / false.
#include "flowtape/runtime/format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <vector>

namespace flowtape {

namespace {

struct Printer {
  const Shape& shape;
  const std::vector<double>& values;
  const PrintOptions& options;
  bool summarise;
  DType dtype = DType::f32;
  const std::int64_t* ints = nullptr;  // an i64 tensor's own values (doubles round past 2^53)
  bool scientific = false;
  int width = 0;

  // The flat indices of the entries shown along axis `axis` (all, or both ends).
  std::vector<std::int64_t> shown(int axis) const {
    const std::int64_t n = shape[axis];
    std::vector<std::int64_t> idx;
    if (summarise && n > 2 * options.edge_items) {
      for (std::int64_t i = 0; i < options.edge_items; ++i) idx.push_back(i);
      idx.push_back(-1);  // the "..." marker
      for (std::int64_t i = n - options.edge_items; i < n; ++i) idx.push_back(i);
    } else {
      for (std::int64_t i = 0; i < n; ++i) idx.push_back(i);
    }
    return idx;
  }

  std::int64_t stride(int axis) const {
    std::int64_t s = 1;
    for (int a = axis + 1; a < shape.rank(); ++a) s *= shape[a];
    return s;
  }

  std::string number(std::size_t k) const {
    if (dtype == DType::boolean) return values[k] != 0 ? "true" : "false";
    if (dtype == DType::i64) return std::to_string(ints[k]);
    const double v = values[k];
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];  // fixed notation only below 1e8: at most 9 + 1 + 30 characters
    std::snprintf(buf, sizeof buf, scientific ? "%.*e" : "%.*f",
                  std::clamp(options.precision, 0, 30), v);
    return buf;
  }

  // Visits the shown elements (flat offsets) in order.
  template <class F>
  void each_shown(int axis, std::int64_t offset, F&& f) const {
    if (axis == shape.rank()) return f(offset);
    const std::int64_t step = stride(axis);
    for (std::int64_t i : shown(axis))
      if (i >= 0) each_shown(axis + 1, offset + i * step, f);
  }

  void choose_notation() {
    if (!is_floating(dtype)) {
      each_shown(0, 0, [&](std::int64_t k) {
        width = std::max(width, static_cast<int>(number(static_cast<std::size_t>(k)).size()));
      });
      return;
    }
    double largest = 0, smallest = INFINITY;
    each_shown(0, 0, [&](std::int64_t k) {
      const double a = std::abs(values[static_cast<std::size_t>(k)]);
      if (!std::isfinite(a) || a == 0) return;
      largest = std::max(largest, a);
      smallest = std::min(smallest, a);
    });
    scientific = largest > 0 && (largest >= 1e8 || smallest < 1e-4 || largest / smallest > 1e3);
    each_shown(0, 0, [&](std::int64_t k) {
      width = std::max(width, static_cast<int>(number(static_cast<std::size_t>(k)).size()));
    });
  }

  // Writes axis `axis` of the block at `offset`; `indent` is the column of its "[".
  void write(std::string& out, int axis, std::int64_t offset, std::size_t indent) const {
    out += '[';
    const std::vector<std::int64_t> idx = shown(axis);
    const bool last_axis = axis + 1 == shape.rank();
    const std::int64_t step = stride(axis);
    for (std::size_t j = 0; j < idx.size(); ++j) {
      if (j > 0) {
        out += ',';
        if (last_axis) {
          out += ' ';
        } else {
          out += std::string(static_cast<std::size_t>(shape.rank() - axis - 1), '\n');
          out += std::string(indent + 1, ' ');
        }
      }
      if (idx[j] < 0) {
        out += "...";
      } else if (last_axis) {
        const std::string s = number(static_cast<std::size_t>(offset + idx[j]));
        out += std::string(static_cast<std::size_t>(width) - s.size(), ' ') + s;
      } else {
        write(out, axis + 1, offset + idx[j] * step, indent + 1);
      }
    }
    out += ']';
  }
};

}  // namespace

std::string format(const Tensor& x, const PrintOptions& options) {
  if (!x.defined()) return "tensor(undefined)";
  std::string suffix = std::string(", ") + dtype_name(x.dtype());
  if (x.device() != Device::cpu) suffix += std::string(", ") + device_name(x.device());
  if (x.numel() == 0) return "tensor([], shape=" + x.shape().str() + suffix + ")";
  const std::vector<double> values = x.to_vector();
  const Tensor host = to_host(x);
  Printer p{x.shape(), values,
            options,   x.numel() > options.threshold,
            x.dtype(), x.dtype() == DType::i64 ? host.data<std::int64_t>() : nullptr};
  p.choose_notation();
  if (x.rank() == 0) return "tensor(" + p.number(0) + suffix + ")";
  std::string out = "tensor(";
  p.write(out, 0, 0, out.size());
  return out + suffix + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& x) {
  return os << format(x);
}

}  // namespace flowtape
