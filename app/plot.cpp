// SPDX-License-Identifier: MIT
// PNG plots; see plot.hpp.
#include "app/plot.hpp"

#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "flowtape/nn/atomic_file.hpp"

namespace flowtape::app {

namespace {
double quantile(std::vector<double> v, double q) {
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// A perceptually ordered ramp (dark blue -> teal -> yellow), like viridis' end points.
void ramp(double u, std::uint8_t& r, std::uint8_t& g, std::uint8_t& b) {
  u = std::clamp(u, 0.0, 1.0);
  const double stops[4][3] = {{68, 1, 84}, {49, 104, 142}, {53, 183, 121}, {253, 231, 37}};
  const double s = u * 3;
  const int i = std::min(static_cast<int>(s), 2);
  const double f = s - i;
  r = static_cast<std::uint8_t>(stops[i][0] + f * (stops[i + 1][0] - stops[i][0]));
  g = static_cast<std::uint8_t>(stops[i][1] + f * (stops[i + 1][1] - stops[i][1]));
  b = static_cast<std::uint8_t>(stops[i][2] + f * (stops[i + 1][2] - stops[i][2]));
}

struct Mapper {
  Frame f;
  int w, h;
  double px(double x) const { return (x - f.x0) / (f.x1 - f.x0) * (w - 1); }
  double py(double y) const { return (f.y1 - y) / (f.y1 - f.y0) * (h - 1); }
};

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

Image::Image(int width, int height)
    : w_(width), h_(height), rgb_(static_cast<std::size_t>(width * height * 3), 255) {}

void Image::set(int x, int y, std::uint8_t r, std::uint8_t g, std::uint8_t b, double alpha) {
  if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
  std::uint8_t* p = &rgb_[static_cast<std::size_t>((y * w_ + x) * 3)];
  const std::uint8_t c[3] = {r, g, b};
  for (int k = 0; k < 3; ++k) p[k] = static_cast<std::uint8_t>(p[k] * (1 - alpha) + c[k] * alpha);
}

void Image::line(double x0, double y0, double x1, double y1, std::uint8_t r, std::uint8_t g,
                 std::uint8_t b, double alpha) {
  const int n = static_cast<int>(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
  if (n > 4 * (w_ + h_)) return;  // far outside the window
  for (int i = 0; i <= n; ++i) {
    const double s = static_cast<double>(i) / n;
    set(static_cast<int>(std::lround(x0 + s * (x1 - x0))),
        static_cast<int>(std::lround(y0 + s * (y1 - y0))), r, g, b, alpha);
  }
}

void Image::dot(double x, double y, int radius, std::uint8_t r, std::uint8_t g, std::uint8_t b,
                double alpha) {
  const int cx = static_cast<int>(std::lround(x)), cy = static_cast<int>(std::lround(y));
  for (int dy = -radius; dy <= radius; ++dy) {
    for (int dx = -radius; dx <= radius; ++dx) {
      if (dx * dx + dy * dy <= radius * radius) set(cx + dx, cy + dy, r, g, b, alpha);
    }
  }
}

void Image::border() {
  for (int x = 0; x < w_; ++x) {
    set(x, 0, 0, 0, 0);
    set(x, h_ - 1, 0, 0, 0);
  }
  for (int y = 0; y < h_; ++y) {
    set(0, y, 0, 0, 0);
    set(w_ - 1, y, 0, 0, 0);
  }
}

void Image::save_png(const std::string& path) const {
  std::string png;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                               static_cast<std::size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &png, w_, h_, 3, rgb_.data(), w_ * 3))
    throw std::runtime_error("could not encode the PNG " + path);
  nn::write_file_atomic(path, png);
}

Image scatter_plot(const Tensor& generated, const Tensor& data, const Frame& frame, int size) {
  require_2d(generated, "scatter_plot");
  require_2d(data, "scatter_plot");
  Image img(size, size);
  const Mapper m{frame, size, size};
  const std::vector<double> d = data.to_vector(), g = generated.to_vector();
  for (std::size_t i = 0; i + 1 < d.size(); i += 2)
    img.dot(m.px(d[i]), m.py(d[i + 1]), 1, 150, 150, 150, 0.5);
  for (std::size_t i = 0; i + 1 < g.size(); i += 2)
    img.dot(m.px(g[i]), m.py(g[i + 1]), 1, 31, 90, 200, 0.6);
  img.border();
  return img;
}

Image density_plot(const Tensor& samples, const Frame& frame, int bins, int size) {
  require_2d(samples, "density_plot");
  std::vector<double> hist(static_cast<std::size_t>(bins * bins), 0.0);
  const std::vector<double> v = samples.to_vector();
  for (std::size_t i = 0; i + 1 < v.size(); i += 2) {
    const int bx = static_cast<int>((v[i] - frame.x0) / (frame.x1 - frame.x0) * bins);
    const int by = static_cast<int>((frame.y1 - v[i + 1]) / (frame.y1 - frame.y0) * bins);
    if (bx >= 0 && by >= 0 && bx < bins && by < bins)
      hist[static_cast<std::size_t>(by * bins + bx)] += 1;
  }
  const double peak = std::max(1.0, *std::max_element(hist.begin(), hist.end()));
  Image img(size, size);
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      const double c = hist[static_cast<std::size_t>((y * bins / size) * bins + x * bins / size)];
      std::uint8_t r, g, b;
      ramp(std::sqrt(c / peak), r, g, b);  // sqrt: faint regions stay visible
      img.set(x, y, r, g, b);
    }
  }
  img.border();
  return img;
}

Image trajectory_plot(const std::vector<Tensor>& trajectory, const Frame& frame, int lines,
                      int size) {
  Image img(size, size);
  if (trajectory.empty()) return img;
  for (const Tensor& x : trajectory) require_2d(x, "trajectory_plot");
  const Mapper m{frame, size, size};
  const std::int64_t n = std::min<std::int64_t>(lines, trajectory.front().shape()[0]);
  std::vector<std::vector<double>> pts;
  for (const Tensor& x : trajectory) pts.push_back(x.to_vector());
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::size_t k = 1; k < pts.size(); ++k) {
      const double s = static_cast<double>(k) / static_cast<double>(pts.size() - 1);
      img.line(m.px(pts[k - 1][2 * i]), m.py(pts[k - 1][2 * i + 1]), m.px(pts[k][2 * i]),
               m.py(pts[k][2 * i + 1]), static_cast<std::uint8_t>(40 + 180 * s), 60,
               static_cast<std::uint8_t>(200 - 160 * s), 0.5);
    }
    img.dot(m.px(pts.front()[2 * i]), m.py(pts.front()[2 * i + 1]), 2, 120, 120, 120);
    img.dot(m.px(pts.back()[2 * i]), m.py(pts.back()[2 * i + 1]), 2, 200, 30, 30);
  }
  img.border();
  return img;
}

Image histogram_plot(const Tensor& generated, const Tensor& data, int bins, int width, int height) {
  const std::vector<double> g = generated.to_vector(), d = data.to_vector();
  const double lo = std::min(quantile(d, 0.001), quantile(g, 0.001));
  const double hi = std::max(quantile(d, 0.999), quantile(g, 0.999));
  const double pad = 0.05 * (hi - lo + 1e-9);
  auto hist = [&](const std::vector<double>& v) {
    std::vector<double> h(static_cast<std::size_t>(bins), 0.0);
    for (double x : v) {
      const int b = static_cast<int>((x - lo + pad) / (hi - lo + 2 * pad) * bins);
      if (b >= 0 && b < bins) h[static_cast<std::size_t>(b)] += 1.0 / static_cast<double>(v.size());
    }
    return h;
  };
  const std::vector<double> hg = hist(g), hd = hist(d);
  const double peak =
      std::max(*std::max_element(hg.begin(), hg.end()), *std::max_element(hd.begin(), hd.end()));
  Image img(width, height);
  const int bw = width / bins;
  for (int b = 0; b < bins; ++b) {
    const int top_d = height - 1 - static_cast<int>(hd[b] / peak * (height - 10));
    const int top_g = height - 1 - static_cast<int>(hg[b] / peak * (height - 10));
    for (int x = b * bw; x < (b + 1) * bw; ++x) {
      for (int y = top_d; y < height; ++y) img.set(x, y, 160, 160, 160, 0.6);
      for (int y = top_g; y < height; ++y) img.set(x, y, 31, 90, 200, 0.45);
    }
  }
  img.border();
  return img;
}

}  // namespace flowtape::app
