// SPDX-License-Identifier: MIT
// Shape arithmetic and its error messages.
#include "flowtape/runtime/shape.hpp"

#include <stdexcept>

namespace flowtape {

Shape::Shape(std::initializer_list<std::int64_t> dims)
    : Shape(std::span<const std::int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const std::int64_t> dims) {
  for (std::int64_t d : dims) push_back(d);
}

void Shape::push_back(std::int64_t d) {
  if (rank_ == kMaxRank)
    throw std::invalid_argument("flowtape supports tensors of rank at most 8; got more dimensions");
  if (d < 0) throw std::invalid_argument("shape extents must be >= 0, got " + std::to_string(d));
  dims_[static_cast<std::size_t>(rank_++)] = d;
}

void Shape::axis_out_of_range(int axis) const {
  throw std::out_of_range("axis " + std::to_string(axis) + " of a shape of rank " +
                          std::to_string(rank_) + " (" + str() + ")");
}

std::int64_t Shape::numel(int from, int to) const {
  if (from < 0 || to > rank_) axis_out_of_range(from < 0 ? from : to);
  std::int64_t n = 1;
  bool overflow = false;
  for (int i = from; i < to; ++i) {
    const std::int64_t d = dims_[static_cast<std::size_t>(i)];
    if (d == 0) return 0;  // empty, whatever the other extents multiply to
    overflow = overflow || __builtin_mul_overflow(n, d, &n);
  }
  if (overflow) throw std::length_error("the shape " + str() + " has more than 2^63 elements");
  return n;
}

std::int64_t Shape::numel() const {
  return numel(0, rank_);
}

Shape Shape::reduced(int axis, bool keepdims) const {
  Shape out;
  for (int i = 0; i < rank_; ++i) {
    if (i != axis)
      out.push_back((*this)[i]);
    else if (keepdims)
      out.push_back(1);
  }
  return out;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string((*this)[i]);
  }
  return s + "]";
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.rank_ != b.rank_) return false;
  for (int i = 0; i < a.rank_; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int r = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < r; ++i) {
    const int ia = i - (r - a.rank()), ib = i - (r - b.rank());
    const std::int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(std::string(op) + ": cannot broadcast shapes " + a.str() +
                                  " and " + b.str() + " (dimension " + std::to_string(i) + ": " +
                                  std::to_string(da) + " vs " + std::to_string(db) + ")");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

int normalize_axis(int axis, const Shape& shape, const char* op) {
  const int r = shape.rank();
  if (axis < -r || axis >= r)
    throw std::invalid_argument(std::string(op) + ": axis " + std::to_string(axis) +
                                " is out of range for shape " + shape.str());
  return axis < 0 ? axis + r : axis;
}

}  // namespace flowtape
