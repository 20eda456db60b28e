// SPDX-License-Identifier: MIT
// The values a dtype can hold in [low, high). uniform() maps u in [0, 1) to low + (high - low) u
// in double and rounds once to the tensor's precision, and that rounding can land on high
// itself (f32 uniform(1, 2) at u = 1 - 2^-24) or below low (f32 0.7 is 0.69999999): the
// backends clamp every value to [least, greatest] (exact in double), the dtype's own ends of
// the range.
#pragma once

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace flowtape {

struct UniformBounds {
  double least;     // the least value of T >= low
  double greatest;  // the greatest value of T < high
};

template <class T>
UniformBounds uniform_bounds(double low, double high, const char* dtype) {
  constexpr T inf = std::numeric_limits<T>::infinity();
  T least = static_cast<T>(low), greatest = static_cast<T>(high);
  if (static_cast<double>(least) < low) least = std::nextafter(least, inf);
  if (static_cast<double>(greatest) >= high) greatest = std::nextafter(greatest, -inf);
  if (!(least <= greatest))
    throw std::invalid_argument("uniform: no " + std::string(dtype) + " value lies in [" +
                                std::to_string(low) + ", " + std::to_string(high) + ")");
  return {static_cast<double>(least), static_cast<double>(greatest)};
}

}  // namespace flowtape
