// SPDX-License-Identifier: MIT
// Sample-quality metrics for generated points against data, on plain values (no gradients).
//
//   mmd_rbf             squared maximum mean discrepancy with a sum of Gaussian kernels
//                       (biased V-statistic, so it is >= 0); bandwidths default to the median
//                       distance between a point of x and a point of y (over at most 500 of
//                       each) times {0.5, 1, 2}.
//   sliced_wasserstein  sliced Wasserstein-2 (its square root), averaged over random unit
//                       directions; equal sample counts.
//   energy_distance     2 E|X - Y| - E|X - X'| - E|Y - Y'| (Szekely), >= 0.
//   ring_metrics        the risk-entropic paper's vocabulary (docs/objectives.md):
//                       angular spread error, gap violation rate, mode concentration, variance
//                       error — computed against the data with the Rings geometry — and
//                       signed ones (spread ratio, minority share, radius bias).
//   pairing_reproduction_rate
//                       fraction of generated x1 whose nearest training target is the one
//                       paired with their source (the memorisation study, docs/objectives.md).
#pragma once

#include <vector>

#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/flows/datasets.hpp"

namespace flowtape::flows {

double mmd_rbf(const Tensor& x, const Tensor& y, std::vector<double> bandwidths = {});
double sliced_wasserstein(const Tensor& x, const Tensor& y, int projections, Generator& gen);
double energy_distance(const Tensor& x, const Tensor& y);

struct RingMetrics {
  double angular_spread_error;  // mean over lobes of |std(gen angles) - std(data angles)|
  double gap_violation_rate;    // fraction of generated angles in a gap
  double mode_concentration;    // total variation between lobe occupancies (gen vs weights)
  double variance_error;        // |tr Cov(gen) - tr Cov(data)| / tr Cov(data)
  double radial_std_error;      // |std(gen radius) - std(data radius)|
  // Signed measures, which say which way a sample set is off (1 or 0: right):
  // mean over lobes of std(gen angles) / std(data angles); > 1: too wide; a lobe with fewer
  // than 2 samples counts as 0
  double spread_ratio;
  double minority_share;  // occupancy of the lightest lobe / its weight; < 1: under-weighted
  double radius_bias;     // mean(gen radius) - mean(data radius); < 0: samples fall inside
};
RingMetrics ring_metrics(const Rings& rings, const Tensor& generated, const Tensor& data);

double pairing_reproduction_rate(const Tensor& generated, const Tensor& targets);

}  // namespace flowtape::flows
