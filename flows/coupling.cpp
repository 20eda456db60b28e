// SPDX-License-Identifier: MIT
// Couplings and the exact assignment solver behind minibatch OT.
#include "flowtape/flows/coupling.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace flowtape::flows {

Tensor take_rows(const Tensor& x, const std::vector<std::int64_t>& indices) {
  if (x.rank() < 1) throw std::invalid_argument("take_rows: x must have at least one axis");
  // Device tensors: gathered on the host and sent back (the assignment that picks the rows is
  // solved on the host anyway).
  if (x.device() != Device::cpu) return take_rows(to_host(x), indices).to(x.device());
  const std::int64_t rows = x.shape()[0];
  Shape out_shape = x.shape();
  out_shape[0] = static_cast<std::int64_t>(indices.size());
  Tensor out = empty(out_shape, x.dtype());
  const std::int64_t row_bytes = (rows == 0 ? 0 : x.numel() / rows) * dtype_size(x.dtype());
  const auto* src = static_cast<const char*>(x.raw_data());
  auto* dst = static_cast<char*>(out.mutable_raw_data());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const std::int64_t r = indices[i];
    if (r < 0 || r >= rows) {
      std::ostringstream m;
      m << "take_rows: index " << r << " out of range for " << rows << " rows";
      throw std::out_of_range(m.str());
    }
    std::memcpy(dst + i * row_bytes, src + r * row_bytes, static_cast<std::size_t>(row_bytes));
  }
  return out;
}

std::vector<std::int64_t> linear_assignment(const std::vector<double>& cost, std::int64_t n) {
  if (n < 0 || static_cast<std::int64_t>(cost.size()) != n * n) {
    std::ostringstream m;
    m << "linear_assignment: cost has " << cost.size() << " entries, expected n * n = " << n * n;
    throw std::invalid_argument(m.str());
  }
  for (double c : cost) {
    if (!std::isfinite(c)) throw std::invalid_argument("linear_assignment: non-finite cost");
  }
  // Rows are added one at a time; each addition finds a shortest augmenting path from the new
  // row to a free column in the reduced costs c(i, j) - u(i) - v(j), Dijkstra-style, and then
  // flips the matching along it. Index 0 is a virtual column that holds the row being added.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(n + 1, 0.0), dist(n + 1);
  std::vector<std::int64_t> row_of(n + 1, 0), prev(n + 1, 0);  // row_of[j]: row matched to j
  std::vector<char> done(n + 1);
  for (std::int64_t i = 1; i <= n; ++i) {
    row_of[0] = i;
    std::int64_t j0 = 0;
    std::fill(dist.begin(), dist.end(), inf);
    std::fill(done.begin(), done.end(), 0);
    do {
      done[j0] = 1;
      const std::int64_t i0 = row_of[j0];
      double delta = inf;
      std::int64_t j1 = 0;
      const double* row = cost.data() + (i0 - 1) * n;
      for (std::int64_t j = 1; j <= n; ++j) {
        if (done[j]) continue;
        const double reduced = row[j - 1] - u[i0] - v[j];
        if (reduced < dist[j]) {
          dist[j] = reduced;
          prev[j] = j0;
        }
        if (dist[j] < delta) {
          delta = dist[j];
          j1 = j;
        }
      }
      for (std::int64_t j = 0; j <= n; ++j) {
        if (done[j]) {
          u[row_of[j]] += delta;
          v[j] -= delta;
        } else {
          dist[j] -= delta;
        }
      }
      j0 = j1;
    } while (row_of[j0] != 0);
    do {  // augment along the path back to the virtual column
      const std::int64_t j1 = prev[j0];
      row_of[j0] = row_of[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<std::int64_t> col_of_row(n);
  for (std::int64_t j = 1; j <= n; ++j) col_of_row[row_of[j] - 1] = j - 1;
  return col_of_row;
}

CouplingKind coupling_from_name(std::string_view name) {
  if (name == "independent") return CouplingKind::independent;
  if (name == "ot" || name == "minibatch_ot") return CouplingKind::minibatch_ot;
  throw std::invalid_argument("unknown coupling '" + std::string(name) +
                              "'; expected one of: independent, ot");
}

namespace {

// For each group of row indices, the exact OT assignment between x0's and x1's rows of that
// group (squared Euclidean cost): order[i] is the row of x1 that row i of x0 meets. Rows are
// only ever paired within their group.
std::vector<std::int64_t> ot_order(const std::vector<double>& a, const std::vector<double>& b,
                                   std::int64_t d,
                                   const std::vector<std::vector<std::int64_t>>& groups) {
  std::vector<std::int64_t> order(a.size() / static_cast<std::size_t>(d));
  for (const auto& g : groups) {
    const auto n = static_cast<std::int64_t>(g.size());
    std::vector<double> cost(static_cast<std::size_t>(n * n));
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (std::int64_t k = 0; k < d; ++k) {
          const double diff = a[g[i] * d + k] - b[g[j] * d + k];
          s += diff * diff;
        }
        cost[static_cast<std::size_t>(i * n + j)] = s;
      }
    }
    const std::vector<std::int64_t> p = linear_assignment(cost, n);
    for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(g[i])] = g[p[i]];
  }
  return order;
}

}  // namespace

Pair couple(CouplingKind kind, const Tensor& x0, const Tensor& x1) {
  if (x0.rank() != 2 || x0.shape() != x1.shape()) {
    std::ostringstream m;
    m << "couple: x0 and x1 must both be [B, d], got " << x0.shape() << " and " << x1.shape();
    throw std::invalid_argument(m.str());
  }
  if (kind == CouplingKind::independent) return {x0, x1};
  if (x0.shape()[1] == 0) return {x0, x1};  // no coordinates: every pairing costs nothing
  std::vector<std::int64_t> all(static_cast<std::size_t>(x0.shape()[0]));
  std::iota(all.begin(), all.end(), std::int64_t{0});
  return {x0, take_rows(x1, ot_order(x0.to_vector(), x1.to_vector(), x0.shape()[1], {all}))};
}

Pair couple_within_classes(const Tensor& x0, const Tensor& x1, const Tensor& labels) {
  if (x0.rank() != 2 || x0.shape() != x1.shape() || labels.dtype() != DType::i64 ||
      labels.rank() != 1 || labels.size(0) != x0.shape()[0]) {
    std::ostringstream m;
    m << "couple_within_classes: x0 and x1 must both be [B, d] and labels i64 [B], got "
      << x0.shape() << ", " << x1.shape() << " and " << labels.str();
    throw std::invalid_argument(m.str());
  }
  if (x0.shape()[1] == 0) return {x0, x1};
  std::map<std::int64_t, std::vector<std::int64_t>> groups;
  const std::vector<double> l = labels.to_vector();
  for (std::size_t i = 0; i < l.size(); ++i)
    groups[static_cast<std::int64_t>(l[i])].push_back(static_cast<std::int64_t>(i));
  std::vector<std::vector<std::int64_t>> rows;
  for (auto& [label, members] : groups) rows.push_back(std::move(members));
  return {x0, take_rows(x1, ot_order(x0.to_vector(), x1.to_vector(), x0.shape()[1], rows))};
}

FixedPairs::FixedPairs(Tensor x0, Tensor x1) : x0_(std::move(x0)), x1_(std::move(x1)) {
  if (x0_.rank() != 2 || x0_.shape() != x1_.shape() || x0_.shape()[0] == 0) {
    std::ostringstream m;
    m << "FixedPairs: x0 and x1 must both be [N, d] with N > 0, got " << x0_.shape() << " and "
      << x1_.shape();
    throw std::invalid_argument(m.str());
  }
}

Pair FixedPairs::batch(std::int64_t size, Generator& gen) const {
  if (size < 0)
    throw std::invalid_argument("FixedPairs::batch: size must be >= 0, got " +
                                std::to_string(size));
  std::vector<std::int64_t> idx(static_cast<std::size_t>(size));
  const auto n = static_cast<double>(this->size());
  for (auto& i : idx) i = static_cast<std::int64_t>(gen.uniform() * n);
  return {take_rows(x0_, idx), take_rows(x1_, idx)};
}

}  // namespace flowtape::flows
