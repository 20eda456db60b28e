// SPDX-License-Identifier: MIT
// The 8x8 handwritten digits (UCI's optical recognition set, 1,797 images of 10 classes, as
// scikit-learn ships them: digits.csv.gz, 64 pixel values 0..16 and the label per line),
// read strictly and split into training and held-out digits by a seeded shuffle.
#pragma once

#include <cstdint>
#include <string>

#include "flowtape/autodiff/autodiff.hpp"

namespace flowtape::examples {

// Where Debian's python3-sklearn puts the file.
inline constexpr const char* kDigitsPath =
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

struct DigitSplit {
  Tensor train_x, test_x;  // [n, 64] f32, pixels mapped from 0..16 to [-1, 1]
  Tensor train_y, test_y;  // [n] i64 labels 0..9
};

// Throws std::runtime_error naming the file for anything but 65 whole numbers per line
// (pixels in [0, 16], a label in [0, 9]).
DigitSplit read_digits(const std::string& path, double test_fraction, std::uint64_t seed);

// Pixels back to 0..16 (for pictures), from the [-1, 1] scale.
inline Tensor to_pixels(const Tensor& x) {
  return (x + 1.0) * 8.0;
}

}  // namespace flowtape::examples
