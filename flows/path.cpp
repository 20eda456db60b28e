// SPDX-License-Identifier: MIT
// The four named affine paths; see path.hpp for the conditional-Gaussian reading of each.
#include "flowtape/flows/path.hpp"

#include <cmath>
#include <numbers>
#include <sstream>
#include <stdexcept>

namespace flowtape::flows {

Path Path::rectified() {
  return Path(PathKind::rectified, 0.0);
}

Path Path::lipman(double sigma_min) {
  if (!(sigma_min >= 0.0 && sigma_min < 1.0)) {
    std::ostringstream m;
    m << "Path::lipman: sigma_min must be in [0, 1), got " << sigma_min;
    throw std::invalid_argument(m.str());
  }
  return Path(PathKind::lipman, sigma_min);
}

Path Path::independent(double sigma) {
  if (!(sigma > 0.0) || !std::isfinite(sigma)) {
    std::ostringstream m;
    m << "Path::independent: sigma must be positive and finite, got " << sigma
      << " (sigma = 0 is the rectified path)";
    throw std::invalid_argument(m.str());
  }
  return Path(PathKind::independent, sigma);
}

Path Path::vp_cosine() {
  return Path(PathKind::vp_cosine, 0.0);
}

Path Path::from_name(std::string_view name, double sigma) {
  if (name == "rectified" || name == "condot") return rectified();
  if (name == "lipman") return lipman(sigma);
  if (name == "independent" || name == "icfm") return independent(sigma);
  if (name == "vp" || name == "vp_cosine") return vp_cosine();
  throw std::invalid_argument("unknown path '" + std::string(name) +
                              "'; expected one of: rectified, lipman, independent, vp");
}

std::string Path::name() const {
  switch (kind_) {
    case PathKind::rectified:
      return "rectified";
    case PathKind::lipman:
      return "lipman";
    case PathKind::independent:
      return "independent";
    case PathKind::vp_cosine:
      return "vp";
  }
  return "?";
}

Path::Coefficients Path::coefficients(double t) const {
  constexpr double h = std::numbers::pi / 2;
  switch (kind_) {
    case PathKind::rectified:
      return {t, 1 - t, 0, 1, -1, 0};
    case PathKind::lipman:
      return {t, 1 - (1 - sigma_) * t, 0, 1, -(1 - sigma_), 0};
    case PathKind::independent:
      return {t, 1 - t, sigma_, 1, -1, 0};
    case PathKind::vp_cosine:
      return {std::sin(h * t), std::cos(h * t), 0, h * std::cos(h * t), -h * std::sin(h * t), 0};
  }
  return {};
}

Tensor as_time_column(const Tensor& t, std::int64_t batch) {
  if (t.numel() == 1) return broadcast_to(reshape(t, {1, 1}), Shape{batch, 1});
  if (t.numel() != batch || t.rank() > 2 || (t.rank() == 2 && t.shape()[1] != 1)) {
    std::ostringstream m;
    m << "time must have one entry per sample ([" << batch << "] or [" << batch
      << ", 1]) or be a scalar, got shape " << t.shape();
    throw std::invalid_argument(m.str());
  }
  return reshape(t, {batch, 1});
}

PathSample Path::sample(const Tensor& x0, const Tensor& x1, const Tensor& t_in,
                        const Tensor& z) const {
  if (x0.shape() != x1.shape() || x0.rank() != 2) {
    std::ostringstream m;
    m << "Path::sample: x0 and x1 must both be [B, d], got " << x0.shape() << " and " << x1.shape();
    throw std::invalid_argument(m.str());
  }
  const Tensor t = as_time_column(t_in, x0.shape()[0]);
  PathSample p;
  switch (kind_) {
    case PathKind::rectified:
    case PathKind::lipman: {
      const double c = 1 - sigma_;  // 1 - sigma_min; 1 for the rectified path
      p.sigma = 1.0 - c * t;
      p.xt = t * x1 + p.sigma * x0;
      p.ut = x1 - c * x0;
      p.sigma_rate = -c / p.sigma;
      p.score = -x0 / p.sigma;
      break;
    }
    case PathKind::independent: {
      if (!z.defined() || z.shape() != x0.shape()) {
        std::ostringstream m;
        m << "Path::sample: the independent path needs noise z of x0's shape " << x0.shape()
          << ", got " << (z.defined() ? z.shape() : Shape{});
        throw std::invalid_argument(m.str());
      }
      p.xt = t * x1 + (1.0 - t) * x0 + sigma_ * z;
      p.ut = x1 - x0;
      p.sigma = full_like(t, sigma_);
      p.sigma_rate = zeros_like(t);
      p.score = -z / sigma_;
      break;
    }
    case PathKind::vp_cosine: {
      constexpr double h = std::numbers::pi / 2;
      const Tensor a = sin(h * t), b = cos(h * t);
      p.xt = a * x1 + b * x0;
      p.ut = (h * b) * x1 - (h * a) * x0;
      p.sigma = b;
      p.sigma_rate = -h * a / b;
      p.score = -x0 / b;
      break;
    }
  }
  return p;
}

}  // namespace flowtape::flows
