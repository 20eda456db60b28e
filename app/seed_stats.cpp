// SPDX-License-Identifier: MIT
// Mean, standard deviation and paired differences over seeds.
#include "app/seed_stats.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace flowtape::app {

MeanStd mean_std(const std::vector<double>& values) {
  if (values.empty()) throw std::invalid_argument("mean_std: no values");
  double m = 0, q = 0;
  for (double x : values) m += x;
  m /= static_cast<double>(values.size());
  for (double x : values) q += (x - m) * (x - m);
  return {m, values.size() > 1 ? std::sqrt(q / static_cast<double>(values.size() - 1)) : 0.0};
}

MeanStd paired_difference(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size())
    throw std::invalid_argument("paired_difference: the two runs cover different seeds");
  std::vector<double> d(a.size());
  for (std::size_t k = 0; k < a.size(); ++k) d[k] = a[k] - b[k];
  return mean_std(d);
}

std::string format_mean_std(const char* format, MeanStd s) {
  char m[48], sd[48];
  std::snprintf(m, sizeof m, format, s.mean);
  std::snprintf(sd, sizeof sd, format, s.std);
  return std::string(m) + " +- " + (sd[0] == '+' ? sd + 1 : sd);
}

}  // namespace flowtape::app
