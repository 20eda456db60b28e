// SPDX-License-Identifier: MIT
// The programs' plots, written as PNG: a scatter of generated points over the data, a 2-D
// histogram heat map of the samples, trajectories from noise to data, and a 1-D histogram
// comparison. Each is a Figure (figure.hpp): title, axes with ticks and numbers, a legend or a
// colour bar; the 2-D plots share the data's window so they line up. An empty title gives the
// plot's default one.
#pragma once

#include <string>
#include <vector>

#include "app/figure.hpp"
#include "flowtape/autodiff/autodiff.hpp"

namespace flowtape::app {

// A square window around the 2-D points with a 10% margin (robust to a few outliers: the
// 0.5% and 99.5% quantiles).
Frame frame_of(const Tensor& points);

Image scatter_plot(const Tensor& generated, const Tensor& data, const Frame& frame,
                   const std::string& title = "");
Image density_plot(const Tensor& samples, const Frame& frame, const std::string& title = "",
                   int bins = 110);
// trajectory[k] is the state at the k-th saved time, each [B, 2]; draws the first `lines` rows.
Image trajectory_plot(const std::vector<Tensor>& trajectory, const Frame& frame, int lines = 128,
                      const std::string& title = "");
// 1-D: histograms (as densities) of generated (blue) and data (grey) values.
Image histogram_plot(const Tensor& generated, const Tensor& data, const std::string& title = "",
                     int bins = 100);

}  // namespace flowtape::app
