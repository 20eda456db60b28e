// SPDX-License-Identifier: MIT
// Reading and splitting the digits; see digit_data.hpp.
#include "examples/digits/digit_data.hpp"

#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "examples/digits/gzip.hpp"
#include "flowtape/flows/coupling.hpp"
#include "flowtape/flows/csv.hpp"

namespace flowtape::examples {

DigitSplit read_digits(const std::string& path, double test_fraction, std::uint64_t seed) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  // At most one byte past gunzip's bound, so that a huge file (or /dev/zero) is refused
  // without being read whole.
  std::string raw;
  std::vector<char> chunk(std::size_t{1} << 20);
  while (raw.size() <= kMostGzipBytes && f) {
    f.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    raw.append(chunk.data(), static_cast<std::size_t>(f.gcount()));
  }
  if (f.bad()) throw std::runtime_error("cannot read " + path);
  std::istringstream text(gunzip(raw, path));
  const Tensor table = flows::parse_csv(text, path, {.dtype = DType::f64}).values;
  if (table.shape()[1] != 65)
    throw std::runtime_error(path + ": expected 65 columns (64 pixels and a label), got " +
                             std::to_string(table.shape()[1]));
  const std::int64_t n = table.shape()[0];
  const std::vector<double> v = table.to_vector();
  std::vector<double> pixels, labels;
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < 65; ++j) {
      const double p = v[static_cast<std::size_t>(i * 65 + j)];
      const double most = j < 64 ? 16 : 9;
      if (!(p >= 0 && p <= most && p == std::floor(p)))
        throw std::runtime_error(path + ": data row " + std::to_string(i + 1) + ", column " +
                                 std::to_string(j + 1) + ": " + std::to_string(p) +
                                 " is not a whole number in [0, " + std::to_string(int(most)) +
                                 "]");
      (j < 64 ? pixels : labels).push_back(j < 64 ? p / 8.0 - 1.0 : p);
    }
  }
  // A seeded shuffle, then the last test_fraction of the rows are held out.
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  Generator gen(seed, 5);
  shuffle_tail(order, n, gen);
  const auto test = static_cast<std::int64_t>(std::llround(test_fraction * double(n)));
  if (test < 10 || test > n - 10)
    throw std::runtime_error("the held-out fraction leaves too few training or test digits");
  const std::vector<std::int64_t> train_rows(order.begin(), order.end() - test),
      test_rows(order.end() - test, order.end());
  const Tensor x = from_vector(pixels, Shape{n, 64});
  const Tensor y = from_vector(labels, Shape{n}, DType::i64);
  return {flows::take_rows(x, train_rows), flows::take_rows(x, test_rows),
          flows::take_rows(y, train_rows), flows::take_rows(y, test_rows)};
}

}  // namespace flowtape::examples
