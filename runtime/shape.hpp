// SPDX-License-Identifier: MIT
// Shape: the extents of a tensor (rank <= 8, stored inline so creating a tensor does not
// allocate for it), NumPy broadcasting, and axis normalisation with readable errors.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string>

namespace flowtape {

class Shape {
 public:
  static constexpr int kMaxRank = 8;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  explicit Shape(std::span<const std::int64_t> dims);

  int rank() const { return rank_; }
  // The extent of axis, in [0, rank()) (std::out_of_range otherwise: a negative axis is not
  // counted from the end here; normalize_axis does that). An extent written through the
  // mutable form is checked where a tensor is made of the shape.
  std::int64_t operator[](int axis) const { return dims_[checked(axis)]; }
  std::int64_t& operator[](int axis) { return dims_[checked(axis)]; }
  // The product of the extents; std::length_error where it exceeds int64.
  std::int64_t numel() const;
  // The product of the extents of axes [from, to): the outer and inner sizes of an axis view.
  std::int64_t numel(int from, int to) const;
  const std::int64_t* data() const { return dims_.data(); }
  std::span<const std::int64_t> span() const {
    return {dims_.data(), static_cast<std::size_t>(rank_)};
  }
  const std::int64_t* begin() const { return dims_.data(); }
  const std::int64_t* end() const { return dims_.data() + rank_; }

  void push_back(std::int64_t d);
  // The same shape with axis removed, or set to 1 when keepdims.
  Shape reduced(int axis, bool keepdims) const;

  std::string str() const;  // "[2, 3]"; a scalar is "[]"
  friend bool operator==(const Shape& a, const Shape& b);

 private:
  std::size_t checked(int axis) const {
    if (axis < 0 || axis >= rank_) axis_out_of_range(axis);
    return static_cast<std::size_t>(axis);
  }
  [[noreturn]] void axis_out_of_range(int axis) const;

  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) {
  return os << s.str();
}

// The NumPy broadcast of a and b; throws std::invalid_argument naming both shapes and `op`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Maps a possibly negative axis into [0, rank); throws naming the op and the shape.
int normalize_axis(int axis, const Shape& shape, const char* op);

}  // namespace flowtape
