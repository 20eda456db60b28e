// SPDX-License-Identifier: MIT
// Sample-quality metrics; definitions in metrics.hpp.
#include "flowtape/flows/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace flowtape::flows {

namespace {

struct Points {
  std::vector<double> v;
  std::int64_t n, d;
  const double* row(std::int64_t i) const { return v.data() + i * d; }
};

Points points(const Tensor& x, const char* who) {
  if (x.rank() != 2 || x.shape()[0] == 0) {
    std::ostringstream m;
    m << who << ": expects a non-empty [n, d] sample, got " << x.shape();
    throw std::invalid_argument(m.str());
  }
  return {x.to_vector(), x.shape()[0], x.shape()[1]};
}

void same_dim(const Points& a, const Points& b, const char* who) {
  if (a.d != b.d) {
    std::ostringstream m;
    m << who << ": the samples have different dimensions, " << a.d << " and " << b.d;
    throw std::invalid_argument(m.str());
  }
}

double sq_dist(const double* a, const double* b, std::int64_t d) {
  double s = 0;
  for (std::int64_t k = 0; k < d; ++k) s += (a[k] - b[k]) * (a[k] - b[k]);
  return s;
}

// Mean of f(a_i, b_j) over all pairs.
template <class F>
double mean_pairs(const Points& a, const Points& b, F f) {
  double s = 0;
  for (std::int64_t i = 0; i < a.n; ++i) {
    for (std::int64_t j = 0; j < b.n; ++j) s += f(sq_dist(a.row(i), b.row(j), a.d));
  }
  return s / (static_cast<double>(a.n) * static_cast<double>(b.n));
}

double wrap(double a) {
  a = std::fmod(a + M_PI, 2 * M_PI);
  if (a <= 0) a += 2 * M_PI;
  return a - M_PI;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

double std_of(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean_of(v);
  double q = 0;
  for (double x : v) q += (x - m) * (x - m);
  return std::sqrt(q / static_cast<double>(v.size() - 1));
}

double trace_cov(const Points& p) {
  double t = 0;
  for (std::int64_t k = 0; k < p.d; ++k) {
    std::vector<double> col(static_cast<std::size_t>(p.n));
    for (std::int64_t i = 0; i < p.n; ++i) col[i] = p.row(i)[k];
    const double s = std_of(col);
    t += s * s;
  }
  return t;
}

}  // namespace

double mmd_rbf(const Tensor& x, const Tensor& y, std::vector<double> bandwidths) {
  const Points a = points(x, "mmd_rbf"), b = points(y, "mmd_rbf");
  same_dim(a, b, "mmd_rbf");
  if (bandwidths.empty()) {
    // Median heuristic over the distances between x's and y's points (at most 500 of each).
    std::vector<double> d2;
    const std::int64_t na = std::min<std::int64_t>(a.n, 500), nb = std::min<std::int64_t>(b.n, 500);
    for (std::int64_t i = 0; i < na; ++i) {
      for (std::int64_t j = 0; j < nb; ++j) d2.push_back(sq_dist(a.row(i), b.row(j), a.d));
    }
    std::nth_element(d2.begin(), d2.begin() + d2.size() / 2, d2.end());
    const double median = std::sqrt(std::max(d2[d2.size() / 2], 1e-12));
    bandwidths = {0.5 * median, median, 2 * median};
  }
  double total = 0;
  for (double h : bandwidths) {
    if (!(h > 0)) throw std::invalid_argument("mmd_rbf: bandwidths must be > 0");
    auto k = [h](double d2) { return std::exp(-d2 / (2 * h * h)); };
    total += mean_pairs(a, a, k) + mean_pairs(b, b, k) - 2 * mean_pairs(a, b, k);
  }
  return std::max(total, 0.0);
}

double sliced_wasserstein(const Tensor& x, const Tensor& y, int projections, Generator& gen) {
  const Points a = points(x, "sliced_wasserstein"), b = points(y, "sliced_wasserstein");
  same_dim(a, b, "sliced_wasserstein");
  if (a.n != b.n) {
    std::ostringstream m;
    m << "sliced_wasserstein: needs equal sample counts, got " << a.n << " and " << b.n;
    throw std::invalid_argument(m.str());
  }
  if (projections < 1) throw std::invalid_argument("sliced_wasserstein: projections must be >= 1");
  std::vector<double> dir(static_cast<std::size_t>(a.d)), pa(a.n), pb(b.n);
  double total = 0;
  for (int p = 0; p < projections; ++p) {
    double norm = 0;
    for (auto& e : dir) {
      e = gen.normal();
      norm += e * e;
    }
    norm = std::sqrt(norm);
    for (std::int64_t i = 0; i < a.n; ++i) {
      double sa = 0, sb = 0;
      for (std::int64_t k = 0; k < a.d; ++k) {
        sa += a.row(i)[k] * dir[k] / norm;
        sb += b.row(i)[k] * dir[k] / norm;
      }
      pa[i] = sa;
      pb[i] = sb;
    }
    std::sort(pa.begin(), pa.end());
    std::sort(pb.begin(), pb.end());
    double s = 0;
    for (std::int64_t i = 0; i < a.n; ++i) s += (pa[i] - pb[i]) * (pa[i] - pb[i]);
    total += s / static_cast<double>(a.n);
  }
  return std::sqrt(total / projections);
}

double energy_distance(const Tensor& x, const Tensor& y) {
  const Points a = points(x, "energy_distance"), b = points(y, "energy_distance");
  same_dim(a, b, "energy_distance");
  auto dist = [](double d2) { return std::sqrt(d2); };
  return std::max(0.0,
                  2 * mean_pairs(a, b, dist) - mean_pairs(a, a, dist) - mean_pairs(b, b, dist));
}

RingMetrics ring_metrics(const Rings& rings, const Tensor& generated, const Tensor& data) {
  const Points g = points(generated, "ring_metrics"), r = points(data, "ring_metrics");
  if (g.d != 2 || r.d != 2) throw std::invalid_argument("ring_metrics: expects 2-D points");
  const int lobes = rings.config().lobes;
  struct PerLobe {
    std::vector<double> offsets;  // angle - lobe centre
    std::vector<double> radii;
    std::int64_t gaps = 0;
  };
  auto split = [&](const Points& p) {
    std::vector<PerLobe> out(static_cast<std::size_t>(lobes));
    std::int64_t gaps = 0;
    std::vector<double> radii;
    for (std::int64_t i = 0; i < p.n; ++i) {
      const double angle = std::atan2(p.row(i)[1], p.row(i)[0]);
      if (!std::isfinite(angle) || !std::isfinite(std::hypot(p.row(i)[0], p.row(i)[1]))) {
        ++gaps;  // a non-finite point lies in no lobe
        continue;
      }
      const int k = rings.nearest_lobe(angle);
      out[k].offsets.push_back(wrap(angle - rings.lobe_centre(k)));
      out[k].radii.push_back(std::hypot(p.row(i)[0], p.row(i)[1]));
      if (rings.lobe_of_angle(angle) < 0) ++gaps;
    }
    out[0].gaps = gaps;
    return out;
  };
  const std::vector<PerLobe> gl = split(g), rl = split(r);
  RingMetrics m{};
  double weight_total = 0;
  for (double w : rings.config().weights) weight_total += w;
  std::vector<double> g_radii, r_radii;
  for (int k = 0; k < lobes; ++k) {
    m.angular_spread_error += std::abs(std_of(gl[k].offsets) - std_of(rl[k].offsets)) / lobes;
    const double occupancy = static_cast<double>(gl[k].offsets.size()) / static_cast<double>(g.n);
    m.mode_concentration += 0.5 * std::abs(occupancy - rings.config().weights[k] / weight_total);
    g_radii.insert(g_radii.end(), gl[k].radii.begin(), gl[k].radii.end());
    r_radii.insert(r_radii.end(), rl[k].radii.begin(), rl[k].radii.end());
  }
  // A lobe the samples (all but) lost counts with ratio 0, as the spread error charges it the
  // data's whole spread: skipping it let a model that drops the minority lobe read 1.00.
  int lobes_with_spread = 0;
  for (int k = 0; k < lobes; ++k) {
    const double data_std = std_of(rl[k].offsets);
    if (!(data_std > 0)) continue;  // a lobe the data itself has no spread in says nothing
    if (gl[k].offsets.size() >= 2) m.spread_ratio += std_of(gl[k].offsets) / data_std;
    ++lobes_with_spread;
  }
  m.spread_ratio = lobes_with_spread > 0 ? m.spread_ratio / lobes_with_spread : 0.0;
  const auto& w = rings.config().weights;
  // The least weight among the lobes that have any (a lobe of weight 0 has no share to reach).
  std::size_t minority = 0;
  for (std::size_t k = 0; k < w.size(); ++k)
    if (w[k] > 0 && (!(w[minority] > 0) || w[k] < w[minority])) minority = k;
  m.minority_share = static_cast<double>(gl[minority].offsets.size()) / static_cast<double>(g.n) /
                     (w[minority] / weight_total);
  m.gap_violation_rate = static_cast<double>(gl[0].gaps) / static_cast<double>(g.n);
  const double tr_data = trace_cov(r);
  if (!(tr_data > 0))
    throw std::invalid_argument(
        "ring_metrics: the data's variance is not positive (it needs two distinct, finite points)");
  m.variance_error = std::abs(trace_cov(g) - tr_data) / tr_data;
  m.radial_std_error = std::abs(std_of(g_radii) - std_of(r_radii));
  m.radius_bias = mean_of(g_radii) - mean_of(r_radii);
  return m;
}

double pairing_reproduction_rate(const Tensor& generated, const Tensor& targets) {
  const Points g = points(generated, "pairing_reproduction_rate");
  const Points t = points(targets, "pairing_reproduction_rate");
  same_dim(g, t, "pairing_reproduction_rate");
  if (g.n != t.n) {
    std::ostringstream m;
    m << "pairing_reproduction_rate: generated[i] must come from the source paired with "
         "targets[i], so the counts must agree; got "
      << g.n << " and " << t.n;
    throw std::invalid_argument(m.str());
  }
  std::int64_t hits = 0;
  for (std::int64_t i = 0; i < g.n; ++i) {
    std::int64_t best = 0;
    double best_d = sq_dist(g.row(i), t.row(0), g.d);
    for (std::int64_t j = 1; j < t.n; ++j) {
      const double d = sq_dist(g.row(i), t.row(j), g.d);
      if (d < best_d) {
        best_d = d;
        best = j;
      }
    }
    hits += best == i;
  }
  return static_cast<double>(hits) / static_cast<double>(g.n);
}

}  // namespace flowtape::flows
