// SPDX-License-Identifier: MIT
// The shared plot frame and the raster image under it; see figure.hpp.
#include "app/figure.hpp"

#include <stb_easy_font.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "flowtape/nn/atomic_file.hpp"

namespace flowtape::app {
namespace {

constexpr Colour kBlack{0, 0, 0};
constexpr Colour kAxisGrey{90, 90, 90};
constexpr Colour kGridGrey{235, 235, 235};

// Margins around the plot area, in pixels: room for the title, the tick numbers and labels.
constexpr int kLeft = 58, kTop = 34, kRight = 18, kBottom = 42, kColourBar = 78;

}  // namespace

Image::Image(int width, int height)
    : w_(width),
      h_(height),
      cx0_(0),
      cy0_(0),
      cx1_(width - 1),
      cy1_(height - 1),
      rgb_(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3, 255) {}

void Image::clip(int x0, int y0, int x1, int y1) {
  cx0_ = std::max(0, x0);
  cy0_ = std::max(0, y0);
  cx1_ = std::min(w_ - 1, x1);
  cy1_ = std::min(h_ - 1, y1);
}

void Image::unclip() {
  clip(0, 0, w_ - 1, h_ - 1);
}

void Image::set(int x, int y, Colour c, double alpha) {
  if (x < cx0_ || y < cy0_ || x > cx1_ || y > cy1_) return;
  std::uint8_t* p = &rgb_[(static_cast<std::size_t>(y) * static_cast<std::size_t>(w_) +
                           static_cast<std::size_t>(x)) *
                          3];
  const std::uint8_t v[3] = {c.r, c.g, c.b};
  for (int k = 0; k < 3; ++k) p[k] = static_cast<std::uint8_t>(p[k] * (1 - alpha) + v[k] * alpha);
}

void Image::line(double x0, double y0, double x1, double y1, Colour c, double alpha) {
  const double steps = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
  if (!(steps <= 4.0 * (w_ + h_))) return;  // far outside the image, or not finite
  const int n = static_cast<int>(steps) + 1;
  for (int i = 0; i <= n; ++i) {
    const double s = static_cast<double>(i) / n;
    set(static_cast<int>(std::lround(x0 + s * (x1 - x0))),
        static_cast<int>(std::lround(y0 + s * (y1 - y0))), c, alpha);
  }
}

void Image::dot(double x, double y, int radius, Colour c, double alpha) {
  if (!(std::abs(x) < 1e6 && std::abs(y) < 1e6)) return;
  const int cx = static_cast<int>(std::lround(x)), cy = static_cast<int>(std::lround(y));
  for (int dy = -radius; dy <= radius; ++dy)
    for (int dx = -radius; dx <= radius; ++dx)
      if (dx * dx + dy * dy <= radius * radius) set(cx + dx, cy + dy, c, alpha);
}

void Image::rect(int x0, int y0, int x1, int y1, Colour c, double alpha) {
  for (int y = std::max(y0, cy0_); y <= std::min(y1, cy1_); ++y)
    for (int x = std::max(x0, cx0_); x <= std::min(x1, cx1_); ++x) set(x, y, c, alpha);
}

void Image::text(int x, int y, const std::string& s, Colour c, int scale) {
  // stb_easy_font builds each glyph from axis-aligned quads: 4 vertices of 16 bytes.
  struct Vertex {
    float x, y, z;
    unsigned char rgba[4];
  };
  std::vector<Vertex> quads(s.size() * 70 + 8);
  std::string copy = s;  // the font's API takes a mutable char*
  const int n = stb_easy_font_print(0, 0, copy.data(), nullptr, quads.data(),
                                    static_cast<int>(quads.size() * sizeof(Vertex)));
  for (int q = 0; q < n; ++q) {
    const Vertex* v = &quads[static_cast<std::size_t>(q) * 4];
    const float qx0 = std::min(v[0].x, v[2].x), qx1 = std::max(v[0].x, v[2].x);
    const float qy0 = std::min(v[0].y, v[2].y), qy1 = std::max(v[0].y, v[2].y);
    rect(x + static_cast<int>(qx0) * scale, y + static_cast<int>(qy0) * scale,
         x + static_cast<int>(qx1) * scale - 1, y + static_cast<int>(qy1) * scale - 1, c);
  }
}

int Image::text_width(const std::string& s, int scale) {
  std::string copy = s;
  return stb_easy_font_width(copy.data()) * scale;
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

std::vector<double> nice_ticks(double lo, double hi, int most) {
  std::vector<double> ticks;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return ticks;
  const double raw = (hi - lo) / std::max(most - 1, 1);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * power;
    if (step >= raw) break;
  }
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step)
    ticks.push_back(std::abs(v) < 1e-9 * step ? 0.0 : v);
  return ticks;
}

std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

Figure::Figure(const Frame& window, Labels labels, int plot_width, int plot_height, bool colour_bar)
    : window_(window),
      labels_(std::move(labels)),
      left_(kLeft),
      top_(kTop),
      pw_(plot_width),
      ph_(plot_height),
      img_(kLeft + plot_width + kRight + (colour_bar ? kColourBar : 0),
           kTop + plot_height + kBottom) {
  if (!(window.x1 > window.x0) || !(window.y1 > window.y0))
    throw std::invalid_argument("Figure: the data window is empty");
  // Light grid lines at the ticks, under everything drawn later.
  for (double t : nice_ticks(window_.x0, window_.x1))
    img_.line(px(t), top_, px(t), top_ + ph_ - 1, kGridGrey);
  for (double t : nice_ticks(window_.y0, window_.y1))
    img_.line(left_, py(t), left_ + pw_ - 1, py(t), kGridGrey);
}

double Figure::px(double x) const {
  return left_ + (x - window_.x0) / (window_.x1 - window_.x0) * (pw_ - 1);
}
double Figure::py(double y) const {
  return top_ + (window_.y1 - y) / (window_.y1 - window_.y0) * (ph_ - 1);
}

void Figure::dot(double x, double y, int radius, Colour c, double alpha) {
  img_.clip(left_, top_, left_ + pw_ - 1, top_ + ph_ - 1);
  img_.dot(px(x), py(y), radius, c, alpha);
  img_.unclip();
}

void Figure::line(double x0, double y0, double x1, double y1, Colour c, double alpha) {
  img_.clip(left_, top_, left_ + pw_ - 1, top_ + ph_ - 1);
  img_.line(px(x0), py(y0), px(x1), py(y1), c, alpha);
  img_.unclip();
}

void Figure::fill(double x0, double y0, double x1, double y1, Colour c, double alpha) {
  img_.clip(left_, top_, left_ + pw_ - 1, top_ + ph_ - 1);
  const auto lo_x = static_cast<int>(std::floor(std::min(px(x0), px(x1))));
  const auto hi_x = static_cast<int>(std::ceil(std::max(px(x0), px(x1))));
  const auto lo_y = static_cast<int>(std::floor(std::min(py(y0), py(y1))));
  const auto hi_y = static_cast<int>(std::ceil(std::max(py(y0), py(y1))));
  img_.rect(lo_x, lo_y, hi_x, hi_y, c, alpha);
  img_.unclip();
}

void Figure::legend(const std::vector<std::pair<std::string, Colour>>& entries) {
  int width = 0;
  for (const auto& e : entries) width = std::max(width, Image::text_width(e.first));
  const int row = 13, box_w = width + 30, box_h = static_cast<int>(entries.size()) * row + 8;
  const int x0 = left_ + pw_ - box_w - 6, y0 = top_ + 6;
  img_.rect(x0, y0, x0 + box_w, y0 + box_h, {255, 255, 255}, 0.85);
  img_.line(x0, y0, x0 + box_w, y0, kAxisGrey);
  img_.line(x0, y0 + box_h, x0 + box_w, y0 + box_h, kAxisGrey);
  img_.line(x0, y0, x0, y0 + box_h, kAxisGrey);
  img_.line(x0 + box_w, y0, x0 + box_w, y0 + box_h, kAxisGrey);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const int y = y0 + 5 + static_cast<int>(i) * row;
    img_.rect(x0 + 6, y + 1, x0 + 18, y + 7, entries[i].second);
    img_.text(x0 + 24, y, entries[i].first, kBlack);
  }
}

void Figure::colour_bar(const std::function<Colour(double)>& colour,
                        const std::vector<std::pair<double, std::string>>& ticks,
                        const std::string& label) {
  const int x0 = left_ + pw_ + kRight, x1 = x0 + 14, y0 = top_, y1 = top_ + ph_ - 1;
  for (int y = y0; y <= y1; ++y) {
    const double u = static_cast<double>(y1 - y) / (y1 - y0);
    img_.line(x0, y, x1, y, colour(u));
  }
  img_.line(x0, y0, x1, y0, kAxisGrey);
  img_.line(x0, y1, x1, y1, kAxisGrey);
  img_.line(x0, y0, x0, y1, kAxisGrey);
  img_.line(x1, y0, x1, y1, kAxisGrey);
  for (const auto& [u, text] : ticks) {
    const int y = y1 - static_cast<int>(std::lround(u * (y1 - y0)));
    img_.line(x1, y, x1 + 3, y, kAxisGrey);
    img_.text(x1 + 6, y - 3, text, kBlack);
  }
  // Under the bar, right-aligned: above it the title may reach this far.
  img_.text(std::max(0, img_.width() - 4 - Image::text_width(label)), y1 + 22, label, kBlack);
}

Image Figure::finish() {
  const int x_end = left_ + pw_ - 1, y_end = top_ + ph_ - 1;
  img_.line(left_, top_, x_end, top_, kAxisGrey);
  img_.line(left_, y_end, x_end, y_end, kAxisGrey);
  img_.line(left_, top_, left_, y_end, kAxisGrey);
  img_.line(x_end, top_, x_end, y_end, kAxisGrey);
  for (double t : nice_ticks(window_.x0, window_.x1)) {
    const double x = px(t);
    img_.line(x, y_end, x, y_end + 4, kAxisGrey);
    const std::string s = tick_label(t);
    img_.text(static_cast<int>(std::lround(x)) - Image::text_width(s) / 2, y_end + 7, s, kBlack);
  }
  for (double t : nice_ticks(window_.y0, window_.y1)) {
    const double y = py(t);
    img_.line(left_ - 4, y, left_, y, kAxisGrey);
    const std::string s = tick_label(t);
    img_.text(left_ - 7 - Image::text_width(s), static_cast<int>(std::lround(y)) - 3, s, kBlack);
  }
  img_.text(left_ + pw_ / 2 - Image::text_width(labels_.x) / 2, y_end + 22, labels_.x, kBlack);
  img_.text(4, top_ - 12, labels_.y, kBlack);
  // The title at double size, centred over the plot, unless it would not fit the image.
  const int scale = Image::text_width(labels_.title, 2) <= img_.width() - 8 ? 2 : 1;
  const int title_x = left_ + pw_ / 2 - Image::text_width(labels_.title, scale) / 2;
  img_.text(std::clamp(title_x, 4,
                       std::max(4, img_.width() - 4 - Image::text_width(labels_.title, scale))),
            scale == 2 ? 6 : 12, labels_.title, kBlack, scale);
  return img_;
}

}  // namespace flowtape::app
