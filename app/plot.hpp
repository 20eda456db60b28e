// SPDX-License-Identifier: MIT
// Small raster plots written as PNG (stb_image_write from libstb-dev): a scatter of generated
// points over the data, a 2-D histogram heat map of the samples, trajectories from noise to
// data, and a 1-D histogram comparison. No text is drawn: file names say what each plot is,
// and every plot shares the data's frame so they line up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flowtape/autodiff/autodiff.hpp"

namespace flowtape::app {

struct Frame {
  double x0, x1, y0, y1;  // the data window
};
// A square window around the 2-D points with a 10% margin (robust to a few outliers: the
// 0.5% and 99.5% quantiles).
Frame frame_of(const Tensor& points);

class Image {
 public:
  Image(int width, int height);
  void set(int x, int y, std::uint8_t r, std::uint8_t g, std::uint8_t b, double alpha = 1.0);
  void line(double x0, double y0, double x1, double y1, std::uint8_t r, std::uint8_t g,
            std::uint8_t b, double alpha = 1.0);
  void dot(double x, double y, int radius, std::uint8_t r, std::uint8_t g, std::uint8_t b,
           double alpha = 1.0);
  void border();
  // Writes atomically; throws std::runtime_error naming the path on failure.
  void save_png(const std::string& path) const;
  int width() const { return w_; }
  int height() const { return h_; }

 private:
  int w_, h_;
  std::vector<std::uint8_t> rgb_;
};

Image scatter_plot(const Tensor& generated, const Tensor& data, const Frame& frame, int size = 512);
Image density_plot(const Tensor& samples, const Frame& frame, int bins = 128, int size = 512);
// trajectory[k] is the state at the k-th saved time, each [B, 2]; draws the first `lines` rows.
Image trajectory_plot(const std::vector<Tensor>& trajectory, const Frame& frame, int lines = 128,
                      int size = 512);
// 1-D: histograms of generated (blue) and data (grey) values.
Image histogram_plot(const Tensor& generated, const Tensor& data, int bins = 120, int width = 640,
                     int height = 320);

}  // namespace flowtape::app
