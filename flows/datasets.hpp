// SPDX-License-Identifier: MIT
// Seeded toy datasets of the flow-matching literature, each drawable at any batch size from a
// Generator, with its exact log-density where one exists (for NLL references).
//
//   rings         the risk-entropic paper's ring with lobes and angular gaps. Its exact
//                 parameters were not published; ours (README, "rings") are:
//                 K arcs centred at 2 pi k / K, each of half-width alpha pi / K (alpha < 1
//                 leaves K gaps), angle uniform within the arc, radius R + N(0, s_r^2), and
//                 lobe weights (by default one minority lobe, the "rare branch").
//   checkerboard  the FDM paper's official 2-D data: eight unit squares in
//                 [-2, 2]^2 scaled by 1/0.45; exact density 1 / 39.506.
//   8gaussians    eight N(c_k, std^2 I) on a circle of radius 5, std 0.5.
//   moons         two interleaved half circles (scikit-learn's make_moons geometry) + noise.
//   spirals       two interleaved arms r = theta / (3 pi) * 2, theta in [0, 3 pi], + noise.
//   gmm1d         a 1-D mixture of four Gaussians with one weak peak (FDM paper Fig. 2's
//                 setting; its parameters were not published, ours are listed in the code).
//   gaussian      N(m, S) in d dimensions (by the Cholesky factor of S).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/flows/condition.hpp"

namespace flowtape::flows {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::string name() const = 0;
  virtual std::int64_t dim() const = 0;
  // n samples as [n, dim()].
  virtual Tensor sample(std::int64_t n, Generator& gen, DType dtype = DType::f32) const = 0;
  // log p(x) per row ([n]) where the density is known in closed form; otherwise throws
  // std::logic_error naming the dataset.
  virtual bool has_log_density() const { return false; }
  virtual Tensor log_density(const Tensor& x) const;

  // The condition each point comes with (condition.hpp), if any: a dataset of classes or of
  // context vectors. Unconditional datasets keep the default.
  virtual ConditionSpec condition() const { return {}; }
  struct Labeled {
    Tensor x;  // [n, dim()]
    Tensor c;  // the points' conditions; undefined for an unconditional dataset
  };
  // n points with their conditions. The default: sample(), no condition.
  virtual Labeled sample_labeled(std::int64_t n, Generator& gen, DType dtype = DType::f32) const {
    return {sample(n, gen, dtype), Tensor()};
  }
};

// A dataset held in memory: the rows of `points` ([n, d]), each with its condition when
// `conditions` is given (i64 labels [n] in [0, classes), or floating context [n, k]). Samples
// are rows drawn uniformly with replacement. The user's own data, read from a file or made in
// code, is one of these.
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor points, Tensor conditions = Tensor(), std::string name = "data",
                std::int64_t classes = 0);  // classes: 0 = the largest label + 1
  std::string name() const override { return name_; }
  std::int64_t dim() const override { return points_.shape()[1]; }
  std::int64_t size() const { return points_.shape()[0]; }
  Tensor sample(std::int64_t n, Generator& gen, DType dtype = DType::f32) const override;
  ConditionSpec condition() const override { return spec_; }
  Labeled sample_labeled(std::int64_t n, Generator& gen, DType dtype = DType::f32) const override;
  // n distinct rows (n <= size()), in a seeded random order: a training set drawn from the
  // data without replacement, so no point is its own neighbour.
  Labeled subset(std::int64_t n, Generator& gen, DType dtype = DType::f32) const;
  const Tensor& points() const { return points_; }
  const Tensor& conditions() const { return conditions_; }

 private:
  std::vector<std::int64_t> draw_rows(std::int64_t n, Generator& gen) const;
  Tensor points_, conditions_;
  std::string name_;
  ConditionSpec spec_;
};

struct RingsConfig {
  int lobes = 6;
  double alpha = 0.6;  // fraction of each sector covered by its arc
  double radius = 1.0;
  double radial_std = 0.04;
  std::vector<double> weights = {1, 1, 1, 1, 1, 0.3};  // lobe k's relative weight
};

class Rings : public Dataset {
 public:
  explicit Rings(RingsConfig config = {});
  std::string name() const override { return "rings"; }
  std::int64_t dim() const override { return 2; }
  Tensor sample(std::int64_t n, Generator& gen, DType dtype = DType::f32) const override;
  const RingsConfig& config() const { return config_; }
  double lobe_centre(int k) const;  // angle in radians, in (-pi, pi]
  double lobe_half_width() const;   // radians
  // The lobe an angle falls in, or -1 when it falls in a gap.
  int lobe_of_angle(double angle) const;
  // Index of the nearest lobe centre (for angles in gaps too).
  int nearest_lobe(double angle) const;

 private:
  RingsConfig config_;
  std::vector<double> cumulative_;  // normalised cumulative weights
};

class Checkerboard : public Dataset {
 public:
  std::string name() const override { return "checkerboard"; }
  std::int64_t dim() const override { return 2; }
  Tensor sample(std::int64_t n, Generator& gen, DType dtype = DType::f32) const override;
  bool has_log_density() const override { return true; }
  Tensor log_density(const Tensor& x) const override;  // -log(39.506) inside, -inf outside
};

class EightGaussians : public Dataset {
 public:
  // radius finite and >= 0, std finite and > 0 (std::invalid_argument otherwise).
  explicit EightGaussians(double radius = 5.0, double std = 0.5);
  std::string name() const override { return "8gaussians"; }
  std::int64_t dim() const override { return 2; }
  Tensor sample(std::int64_t n, Generator& gen, DType dtype = DType::f32) const override;
  bool has_log_density() const override { return true; }
  Tensor log_density(const Tensor& x) const override;
  // Each point's class is its component, 0 .. 7 counter-clockwise from (radius, 0).
  ConditionSpec condition() const override { return {ConditionKind::labels, 8, 0}; }
  Labeled sample_labeled(std::int64_t n, Generator& gen, DType dtype = DType::f32) const override;

 private:
  Labeled draw_points(std::int64_t n, Generator& gen, DType dtype, bool labels) const;
  double radius_, std_;
};

class Moons : public Dataset {
 public:
  explicit Moons(double noise = 0.05);  // noise finite and >= 0
  std::string name() const override { return "moons"; }
  std::int64_t dim() const override { return 2; }
  Tensor sample(std::int64_t n, Generator& gen, DType dtype = DType::f32) const override;

 private:
  double noise_;
};

class Spirals : public Dataset {
 public:
  explicit Spirals(double noise = 0.05);  // noise finite and >= 0
  std::string name() const override { return "spirals"; }
  std::int64_t dim() const override { return 2; }
  Tensor sample(std::int64_t n, Generator& gen, DType dtype = DType::f32) const override;

 private:
  double noise_;
};

// A 1-D Gaussian mixture; the default has four peaks, one of them weak.
class Mixture1D : public Dataset {
 public:
  Mixture1D(std::vector<double> weights = {0.3, 0.1, 0.35, 0.25},
            std::vector<double> means = {-3.0, -1.0, 1.0, 3.0},
            std::vector<double> stds = {0.35, 0.25, 0.35, 0.3});
  std::string name() const override { return "gmm1d"; }
  std::int64_t dim() const override { return 1; }
  Tensor sample(std::int64_t n, Generator& gen, DType dtype = DType::f32) const override;
  bool has_log_density() const override { return true; }
  Tensor log_density(const Tensor& x) const override;

 private:
  std::vector<double> weights_, means_, stds_;
};

// N(mean, cov) in d dimensions; cov must be symmetric positive definite.
class Gaussian : public Dataset {
 public:
  Gaussian(std::vector<double> mean, std::vector<double> cov);
  std::string name() const override { return "gaussian"; }
  std::int64_t dim() const override { return static_cast<std::int64_t>(mean_.size()); }
  Tensor sample(std::int64_t n, Generator& gen, DType dtype = DType::f32) const override;
  bool has_log_density() const override { return true; }
  Tensor log_density(const Tensor& x) const override;

 private:
  std::vector<double> mean_, chol_;  // chol_: lower-triangular L with L L^T = cov, row-major
  double log_det_ = 0;
};

// "rings", "checkerboard", "8gaussians", "moons", "spirals", "gmm1d", "gaussian" (standard
// 2-D); the error for an unknown name lists these.
std::unique_ptr<Dataset> make_dataset(std::string_view name);
std::vector<std::string> dataset_names();

}  // namespace flowtape::flows
