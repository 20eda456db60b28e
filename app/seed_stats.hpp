// SPDX-License-Identifier: MIT
// Statistics over seeds for the paper programs' tables: mean and sample standard deviation,
// and the same of differences paired by seed (method minus control, seed by seed), which
// removes the variation the two runs of a seed share.
#pragma once

#include <string>
#include <vector>

namespace flowtape::app {

struct MeanStd {
  double mean = 0, std = 0;  // std: the sample standard deviation (0 for one value)
};

MeanStd mean_std(const std::vector<double>& values);
// a[k] - b[k] for every seed k (the same length).
MeanStd paired_difference(const std::vector<double>& a, const std::vector<double>& b);
// "m +- s", both with the printf format (a leading '+' is dropped from s).
std::string format_mean_std(const char* format, MeanStd s);

}  // namespace flowtape::app
