// SPDX-License-Identifier: MIT
// Figure: the frame every plot of the programs shares, so each PNG reads on its own: a title,
// axes with ticks at round values and their numbers, axis labels, an optional legend and an
// optional colour bar, around a plot area that maps a data window to pixels. Text is drawn
// with stb_easy_font (libstb-dev); drawing in data coordinates is clipped to the plot area.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace flowtape::app {

struct Colour {
  std::uint8_t r, g, b;
};

// The data window a plot shows.
struct Frame {
  double x0, x1, y0, y1;
};

class Image {
 public:
  Image(int width, int height);
  // Pixels outside the clip rectangle (the whole image unless set) are left alone.
  void set(int x, int y, Colour c, double alpha = 1.0);
  void line(double x0, double y0, double x1, double y1, Colour c, double alpha = 1.0);
  void dot(double x, double y, int radius, Colour c, double alpha = 1.0);
  void rect(int x0, int y0, int x1, int y1, Colour c, double alpha = 1.0);  // filled, inclusive
  // Text with its top-left corner at (x, y), each font pixel drawn as scale x scale.
  void text(int x, int y, const std::string& s, Colour c, int scale = 1);
  static int text_width(const std::string& s, int scale = 1);
  static int text_height(int scale = 1) { return 7 * scale; }
  void clip(int x0, int y0, int x1, int y1);
  void unclip();
  // Writes atomically; throws std::runtime_error naming the path on failure.
  void save_png(const std::string& path) const;
  int width() const { return w_; }
  int height() const { return h_; }

 private:
  int w_, h_;
  int cx0_, cy0_, cx1_, cy1_;  // the clip rectangle, inclusive
  std::vector<std::uint8_t> rgb_;
};

// Steps of 1, 2 or 5 times a power of ten, at most `most` ticks inside [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int most = 6);

class Figure {
 public:
  struct Labels {
    std::string title, x, y;
  };
  // A plot area of plot_width x plot_height pixels showing `window`, with room around it for
  // the labels (and on the right for a colour bar when `colour_bar`).
  Figure(const Frame& window, Labels labels, int plot_width = 440, int plot_height = 440,
         bool colour_bar = false);

  // Data coordinates to pixels.
  double px(double x) const;
  double py(double y) const;
  // Drawing in data coordinates, clipped to the plot area.
  void dot(double x, double y, int radius, Colour c, double alpha = 1.0);
  void line(double x0, double y0, double x1, double y1, Colour c, double alpha = 1.0);
  void fill(double x0, double y0, double x1, double y1, Colour c, double alpha = 1.0);
  // A box of coloured swatches and names in the plot area's top right corner.
  void legend(const std::vector<std::pair<std::string, Colour>>& entries);
  // A vertical bar right of the plot: colour(u) for u in [0, 1] bottom to top, with `ticks`
  // (position u, text) beside it and `label` above.
  void colour_bar(const std::function<Colour(double)>& colour,
                  const std::vector<std::pair<double, std::string>>& ticks,
                  const std::string& label);
  // Draws the axes, ticks, numbers, labels and title over what was drawn; returns the image.
  Image finish();

 private:
  Frame window_;
  Labels labels_;
  int left_, top_, pw_, ph_;
  Image img_;
};

// Numbers for tick labels: short, no trailing zeros ("0.5", "-2", "1e+04").
std::string tick_label(double v);

}  // namespace flowtape::app
