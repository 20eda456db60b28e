// SPDX-License-Identifier: MIT
// Reading a run's own data; see data.hpp.
#include "flowtape/train/data.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "flowtape/flows/coupling.hpp"
#include "flowtape/flows/csv.hpp"
#include "flowtape/flows/npy.hpp"

namespace flowtape::train {
namespace {

// Every value finite and within float32's range (training runs in float32, where 1e39 is inf).
void require_finite(const std::vector<double>& v, std::int64_t columns, const std::string& path) {
  const double largest = std::numeric_limits<float>::max();
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!(std::abs(v[i]) <= largest))
      throw std::invalid_argument(path + ": row " + std::to_string(i / columns + 1) + ", column " +
                                  std::to_string(i % columns + 1) + " is " + std::to_string(v[i]) +
                                  " (only finite float32 values are read)");
}

// Class labels: whole numbers 0, 1, ..., K - 1, every one of them present (a gap would be a
// class the model never sees, or an ID column read as labels: refused, not renumbered).
Tensor as_labels(const std::vector<double>& v, const std::string& where) {
  constexpr double kMostClasses = 65536;
  double largest = -1;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!(v[i] >= 0 && v[i] == std::floor(v[i]) && v[i] < kMostClasses))
      throw std::invalid_argument(where + ": label " + std::to_string(v[i]) + " on row " +
                                  std::to_string(i + 1) + " is not a whole number in [0, 65536)");
    largest = std::max(largest, v[i]);
  }
  std::vector<bool> seen(static_cast<std::size_t>(largest + 1), false);
  for (double l : v) seen[static_cast<std::size_t>(l)] = true;
  for (std::size_t k = 0; k < seen.size(); ++k)
    if (!seen[k])
      throw std::invalid_argument(where + ": labels run to " +
                                  std::to_string(static_cast<long long>(largest)) +
                                  " but no row has label " + std::to_string(k) +
                                  " (labels must be 0, 1, ..., K - 1 with every class present)");
  return from_vector(v, Shape{static_cast<std::int64_t>(v.size())}, DType::i64);
}

}  // namespace

std::string fingerprint_of(const std::vector<const Tensor*>& tensors) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the values' bytes
  for (const Tensor* t : tensors) {
    if (!t->defined()) continue;
    for (double v : t->to_vector()) {
      unsigned char bytes[sizeof v];
      std::memcpy(bytes, &v, sizeof v);
      for (unsigned char b : bytes) h = (h ^ b) * 1099511628211ull;
    }
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Tensor Standardization::apply(const Tensor& x) const {
  if (empty()) return x;
  const auto d = static_cast<std::int64_t>(mean.size());
  return (x - from_vector(mean, Shape{1, d}, x.dtype()).to(x.device())) /
         from_vector(scale, Shape{1, d}, x.dtype()).to(x.device());
}

Tensor Standardization::undo(const Tensor& z) const {
  if (empty()) return z;
  const auto d = static_cast<std::int64_t>(mean.size());
  return z * from_vector(scale, Shape{1, d}, z.dtype()).to(z.device()) +
         from_vector(mean, Shape{1, d}, z.dtype()).to(z.device());
}

double Standardization::log_scale() const {
  double s = 0;
  for (double v : scale) s += std::log(v);
  return s;
}

Tensor read_table(const std::string& path, DType dtype) {
  if (path.ends_with(".npy")) {
    Tensor t = flows::read_npy(path);
    if (t.rank() == 1) t = reshape(t, Shape{t.size(0), 1});
    return to_dtype(t, dtype);
  }
  return flows::read_csv(path, {.dtype = dtype}).values;
}

LoadedData load_data(const TrainSpec& spec) {
  if (spec.data.empty()) throw std::invalid_argument("load_data: the spec names no data file");
  Tensor all = read_table(spec.data, DType::f64);
  std::int64_t n = all.shape()[0], columns = all.shape()[1];
  std::vector<double> values = all.to_vector();
  require_finite(values, columns, spec.data);

  Tensor conditions;
  if (spec.label_column >= 0) {
    if (spec.label_column >= columns || columns < 2)
      throw std::invalid_argument(spec.data + ": label_column " +
                                  std::to_string(spec.label_column) + " but the file has " +
                                  std::to_string(columns) + " columns (and the points need one)");
    std::vector<double> labels, points;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < columns; ++j)
        (j == spec.label_column ? labels : points).push_back(values[i * columns + j]);
    conditions = as_labels(labels, spec.data + " column " + std::to_string(spec.label_column));
    values = std::move(points);
    --columns;
  } else if (!spec.labels.empty() || !spec.context.empty()) {
    const std::string& file = spec.labels.empty() ? spec.context : spec.labels;
    const Tensor c = read_table(file, DType::f64);
    if (c.shape()[0] != n)
      throw std::invalid_argument(file + " has " + std::to_string(c.shape()[0]) + " rows but " +
                                  spec.data + " has " + std::to_string(n));
    const std::vector<double> cv = c.to_vector();
    require_finite(cv, c.shape()[1], file);
    if (!spec.labels.empty()) {
      if (c.shape()[1] != 1)
        throw std::invalid_argument(file + ": labels are one column, the file has " +
                                    std::to_string(c.shape()[1]));
      conditions = as_labels(cv, file);
    } else {
      conditions = to_dtype(c, DType::f32);
    }
  }
  Tensor points = from_vector(values, Shape{n, columns}, DType::f64);
  std::int64_t classes = 0;  // from every row, so a class seen only in the held-out rows counts
  if (conditions.defined() && conditions.dtype() == DType::i64)
    for (double v : conditions.to_vector())
      classes = std::max(classes, static_cast<std::int64_t>(v) + 1);

  LoadedData out;
  out.fingerprint = fingerprint_of({&points, &conditions});
  // The held-out rows: a shuffle by the seed's own stream, the last `holdout` of them.
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  const auto held = static_cast<std::int64_t>(std::llround(spec.holdout * static_cast<double>(n)));
  if (held > 0) {
    if (held >= n)
      throw std::invalid_argument("holdout " + std::to_string(spec.holdout) +
                                  " leaves no rows of " + spec.data + " to train on");
    Generator shuffle(spec.seed, 3);
    shuffle_tail(order, n, shuffle);
  }
  const std::vector<std::int64_t> train_rows(order.begin(), order.end() - held),
      held_rows(order.end() - held, order.end());
  Tensor train_x = flows::take_rows(points, train_rows);
  Tensor train_c = conditions.defined() ? flows::take_rows(conditions, train_rows) : Tensor();
  if (held > 0) {
    out.heldout_x = to_dtype(flows::take_rows(points, held_rows), DType::f32);
    if (conditions.defined()) out.heldout_c = flows::take_rows(conditions, held_rows);
  }
  if (spec.standardize) {
    const std::vector<double> tv = train_x.to_vector();
    const auto rows = static_cast<double>(train_rows.size());
    out.standardization.mean.assign(static_cast<std::size_t>(columns), 0.0);
    out.standardization.scale.assign(static_cast<std::size_t>(columns), 0.0);
    for (std::size_t i = 0; i < tv.size(); ++i)
      out.standardization.mean[i % static_cast<std::size_t>(columns)] += tv[i] / rows;
    for (std::size_t i = 0; i < tv.size(); ++i) {
      const double dev = tv[i] - out.standardization.mean[i % static_cast<std::size_t>(columns)];
      out.standardization.scale[i % static_cast<std::size_t>(columns)] += dev * dev / rows;
    }
    // A constant column keeps scale 1 (it would divide by zero).
    for (double& s : out.standardization.scale) s = s > 1e-24 ? std::sqrt(s) : 1.0;
    train_x = out.standardization.apply(train_x);
  }
  const std::string name = "data";
  out.train =
      std::make_shared<flows::TensorDataset>(to_dtype(train_x, DType::f32), train_c, name, classes);
  return out;
}

}  // namespace flowtape::train
