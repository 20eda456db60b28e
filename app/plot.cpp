// SPDX-License-Identifier: MIT
// The programs' PNG plots; see plot.hpp.
#include "app/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace flowtape::app {

namespace {
double quantile(std::vector<double> v, double q) {
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// A perceptually ordered ramp (dark blue -> teal -> yellow), like viridis' end points.
Colour ramp(double u) {
  u = std::clamp(u, 0.0, 1.0);
  const double stops[4][3] = {{68, 1, 84}, {49, 104, 142}, {53, 183, 121}, {253, 231, 37}};
  const double s = u * 3;
  const int i = std::min(static_cast<int>(s), 2);
  const double f = s - i;
  const auto mix = [&](int k) {
    return static_cast<std::uint8_t>(stops[i][k] + f * (stops[i + 1][k] - stops[i][k]));
  };
  return {mix(0), mix(1), mix(2)};
}

constexpr Colour kData{150, 150, 150}, kGenerated{31, 90, 200}, kSource{120, 120, 120},
    kEnd{200, 30, 30};

std::string or_default(const std::string& title, const char* fallback) {
  return title.empty() ? fallback : title;
}

void require_2d(const Tensor& x, const char* who) {
  if (x.rank() != 2 || x.shape()[1] != 2) {
    throw std::invalid_argument(std::string(who) + ": needs [n, 2] points, got " + x.shape().str());
  }
}
}  // namespace

Frame frame_of(const Tensor& points) {
  require_2d(points, "frame_of");
  const std::vector<double> v = points.to_vector();
  std::vector<double> xs, ys;
  for (std::size_t i = 0; i + 1 < v.size(); i += 2) {
    xs.push_back(v[i]);
    ys.push_back(v[i + 1]);
  }
  const double lo_x = quantile(xs, 0.005), hi_x = quantile(xs, 0.995);
  const double lo_y = quantile(ys, 0.005), hi_y = quantile(ys, 0.995);
  const double cx = (lo_x + hi_x) / 2, cy = (lo_y + hi_y) / 2;
  const double half = 0.6 * std::max({hi_x - lo_x, hi_y - lo_y, 1e-6});
  return {cx - half, cx + half, cy - half, cy + half};
}

Image scatter_plot(const Tensor& generated, const Tensor& data, const Frame& frame,
                   const std::string& title) {
  require_2d(generated, "scatter_plot");
  require_2d(data, "scatter_plot");
  Figure fig(frame, {or_default(title, "generated samples over the data"), "dim 0", "dim 1"});
  const std::vector<double> d = data.to_vector(), g = generated.to_vector();
  for (std::size_t i = 0; i + 1 < d.size(); i += 2) fig.dot(d[i], d[i + 1], 1, kData, 0.5);
  for (std::size_t i = 0; i + 1 < g.size(); i += 2) fig.dot(g[i], g[i + 1], 1, kGenerated, 0.6);
  fig.legend({{"data", kData}, {"generated", kGenerated}});
  return fig.finish();
}

Image density_plot(const Tensor& samples, const Frame& frame, const std::string& title, int bins) {
  require_2d(samples, "density_plot");
  std::vector<double> hist(static_cast<std::size_t>(bins * bins), 0.0);
  const std::vector<double> v = samples.to_vector();
  const double wx = (frame.x1 - frame.x0) / bins, wy = (frame.y1 - frame.y0) / bins;
  for (std::size_t i = 0; i + 1 < v.size(); i += 2) {
    const double fx = std::floor((v[i] - frame.x0) / wx),
                 fy = std::floor((v[i + 1] - frame.y0) / wy);
    if (fx >= 0 && fy >= 0 && fx < bins && fy < bins)
      hist[static_cast<std::size_t>(fy) * static_cast<std::size_t>(bins) +
           static_cast<std::size_t>(fx)] += 1;
  }
  const double peak = std::max(1.0, *std::max_element(hist.begin(), hist.end()));
  Figure fig(frame, {or_default(title, "density of the generated samples"), "dim 0", "dim 1"}, 440,
             440, /*colour_bar=*/true);
  for (int by = 0; by < bins; ++by)
    for (int bx = 0; bx < bins; ++bx) {
      const double c = hist[static_cast<std::size_t>(by * bins + bx)];
      // sqrt: faint regions stay visible
      fig.fill(frame.x0 + bx * wx, frame.y0 + by * wy, frame.x0 + (bx + 1) * wx,
               frame.y0 + (by + 1) * wy, ramp(std::sqrt(c / peak)));
    }
  std::vector<std::pair<double, std::string>> ticks;
  for (double t : nice_ticks(0, peak, 5)) ticks.emplace_back(std::sqrt(t / peak), tick_label(t));
  fig.colour_bar(ramp, ticks, "samples per bin");
  return fig.finish();
}

Image trajectory_plot(const std::vector<Tensor>& trajectory, const Frame& frame, int lines,
                      const std::string& title) {
  Figure fig(frame,
             {or_default(title, "paths from noise (t = 0) to samples (t = 1)"), "dim 0", "dim 1"});
  if (trajectory.empty()) return fig.finish();
  for (const Tensor& x : trajectory) require_2d(x, "trajectory_plot");
  const std::int64_t n = std::min<std::int64_t>(lines, trajectory.front().shape()[0]);
  std::vector<std::vector<double>> pts;
  for (const Tensor& x : trajectory) pts.push_back(x.to_vector());
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::size_t k = 1; k < pts.size(); ++k) {
      const double s = static_cast<double>(k) / static_cast<double>(pts.size() - 1);
      const Colour c{static_cast<std::uint8_t>(40 + 180 * s), 60,
                     static_cast<std::uint8_t>(200 - 160 * s)};
      fig.line(pts[k - 1][2 * i], pts[k - 1][2 * i + 1], pts[k][2 * i], pts[k][2 * i + 1], c, 0.5);
    }
    fig.dot(pts.front()[2 * i], pts.front()[2 * i + 1], 2, kSource);
    fig.dot(pts.back()[2 * i], pts.back()[2 * i + 1], 2, kEnd);
  }
  fig.legend({{"noise, t = 0", kSource}, {"path", {130, 60, 120}}, {"sample, t = 1", kEnd}});
  return fig.finish();
}

Image histogram_plot(const Tensor& generated, const Tensor& data, const std::string& title,
                     int bins) {
  const std::vector<double> g = generated.to_vector(), d = data.to_vector();
  if (g.empty() || d.empty()) throw std::invalid_argument("histogram_plot: no values");
  const double lo = std::min(quantile(d, 0.001), quantile(g, 0.001));
  const double hi = std::max(quantile(d, 0.999), quantile(g, 0.999));
  const double pad = 0.05 * (hi - lo + 1e-9), x0 = lo - pad, x1 = hi + pad;
  const double width = (x1 - x0) / bins;
  auto density = [&](const std::vector<double>& v) {
    std::vector<double> h(static_cast<std::size_t>(bins), 0.0);
    for (double x : v) {
      const double b = std::floor((x - x0) / width);
      if (b >= 0 && b < bins)
        h[static_cast<std::size_t>(b)] += 1.0 / (static_cast<double>(v.size()) * width);
    }
    return h;
  };
  const std::vector<double> hg = density(g), hd = density(d);
  const double peak =
      std::max(*std::max_element(hg.begin(), hg.end()), *std::max_element(hd.begin(), hd.end()));
  Figure fig({x0, x1, 0.0, 1.08 * std::max(peak, 1e-12)},
             {or_default(title, "histogram of generated values and the data"), "x", "density"}, 560,
             300);
  for (int b = 0; b < bins; ++b) {
    const double left = x0 + b * width, right = left + width;
    fig.fill(left, 0, right, hd[static_cast<std::size_t>(b)], kData, 0.6);
    fig.fill(left, 0, right, hg[static_cast<std::size_t>(b)], kGenerated, 0.45);
  }
  fig.legend({{"data", kData}, {"generated", kGenerated}});
  return fig.finish();
}

}  // namespace flowtape::app
