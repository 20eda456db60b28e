// SPDX-License-Identifier: MIT
// Probability paths of flow matching: the affine interpolants x_t = a(t) x1 + b(t) x0 + s(t) z
// with x0 ~ N(0, I) the source, x1 the data, z ~ N(0, I) extra noise, and what a loss needs
// from them: the conditional velocity u_t, and for the divergence-matching loss the
// conditional score and the divergence of u_t as a function of x.
//
// Every path here is a Gaussian conditional path p_t(x | c) = N(mu_t(c), sigma_t^2 I):
//   - with s = 0 the condition is c = x1 and the Gaussian noise is x0 itself:
//       mu_t = a x1, sigma_t = b, u_t(x | x1) = (b'/b)(x - a x1) + a' x1,
//   - with s > 0 (the independent-CFM interpolant) the condition is the pair c = (x0, x1):
//       mu_t = a x1 + b x0, sigma_t = s, u_t = a' x1 + b' x0 + s' z.
// In both cases div_x u_t = d sigma'_t / sigma_t and the score is -(x - mu_t) / sigma_t^2
// (docs/objectives.md). At the sample x = x_t these are evaluated without dividing by a vanishing
// sigma where the closed form allows (the rectified score is -x0 / (1 - t)). Times lie in
// [0, 1); at t = 1 a path whose sigma vanishes there (rectified, lipman with sigma_min = 0, and
// vp, whose cos(pi t / 2) is 0 to rounding, and slightly negative in f32) has an infinite or
// meaningless score and sigma rate, so the FDM loss is NaN: the losses draw t from [0, 1).
#pragma once

#include <string>
#include <string_view>

#include "flowtape/autodiff/autodiff.hpp"

namespace flowtape::flows {

enum class PathKind {
  rectified,    // a = t, b = 1 - t, s = 0 ("CondOT", rectified flow)
  lipman,       // a = t, b = 1 - (1 - sigma_min) t, s = 0 (Lipman et al. 2023)
  independent,  // a = t, b = 1 - t, s = sigma constant (Tong et al.'s I-CFM interpolant)
  vp_cosine,    // a = sin(pi t / 2), b = cos(pi t / 2), s = 0 (variance preserving)
};

// What a loss needs at one draw of (x0, x1, t, z); every tensor has a row per sample.
struct PathSample {
  Tensor xt;          // [B, d] the interpolant
  Tensor ut;          // [B, d] the conditional velocity at xt (the regression target)
  Tensor sigma;       // [B, 1] sigma_t of the conditional Gaussian
  Tensor sigma_rate;  // [B, 1] sigma'_t / sigma_t, so div_x u_t = d * sigma_rate
  Tensor score;       // [B, d] grad_x log p_t(xt | condition)
};

class Path {
 public:
  static Path rectified();
  static Path lipman(double sigma_min);
  static Path independent(double sigma);
  static Path vp_cosine();
  // "rectified", "lipman", "independent", "vp"; sigma is sigma_min or the interpolant's sigma.
  static Path from_name(std::string_view name, double sigma = 0.0);

  PathKind kind() const { return kind_; }
  double sigma() const { return sigma_; }
  std::string name() const;

  // x0, x1: [B, d]; t: [B, 1] (or [B]); z: [B, d] noise, used only by the independent path
  // (pass an empty Tensor otherwise). All the same dtype.
  PathSample sample(const Tensor& x0, const Tensor& x1, const Tensor& t,
                    const Tensor& z = Tensor()) const;

  // The coefficient a(t) and b(t) and their time derivatives at scalar t (for tests, plots and
  // the closed-form velocity).
  struct Coefficients {
    double a, b, s, da, db, ds;
  };
  Coefficients coefficients(double t) const;

 private:
  Path(PathKind kind, double sigma) : kind_(kind), sigma_(sigma) {}
  PathKind kind_;
  double sigma_;
};

// Reshapes t given as [B] or [B, 1] (or a scalar, broadcast to B rows) to [B, 1], checking B.
Tensor as_time_column(const Tensor& t, std::int64_t batch);

}  // namespace flowtape::flows
