// SPDX-License-Identifier: MIT
// The toy datasets; see datasets.hpp for each one's definition and provenance.
#include "flowtape/flows/datasets.hpp"

#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>

#include "flowtape/flows/coupling.hpp"

namespace flowtape::flows {

namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kLogTwoPi = 1.8378770664093453;

void check_n(std::int64_t n) {
  if (n < 0)
    throw std::invalid_argument("dataset sample: n must be >= 0, got " + std::to_string(n));
}

void check_points(const Dataset& ds, const Tensor& x) {
  if (x.rank() != 2 || x.shape()[1] != ds.dim()) {
    std::ostringstream m;
    m << ds.name() << " log_density: expects [n, " << ds.dim() << "], got " << x.shape();
    throw std::invalid_argument(m.str());
  }
}

// Picks an index from normalised cumulative weights.
std::size_t pick(const std::vector<double>& cumulative, double u) {
  std::size_t k = 0;
  while (k + 1 < cumulative.size() && u >= cumulative[k]) ++k;
  return k;
}

// The random draws of n items that each call gen.uniform() `uniforms` times and then
// gen.normal() `normals` times, with exactly the values those calls would give, but with the
// normals' Box-Muller done in one vectorised pass (Generator::normals_of): one normal() at a
// time spent more than the rest of sampling a batch together. u is [n, uniforms] and z is
// [n, normals], row-major.
struct Draws {
  std::vector<double> u, z;
};
Draws draw(Generator& gen, std::int64_t n, int uniforms, int normals) {
  const std::int64_t per = uniforms + normals;
  std::vector<Generator::Block> blocks(static_cast<std::size_t>(n * per));
  gen.next_blocks(blocks.data(), n * per);
  Draws d{std::vector<double>(static_cast<std::size_t>(n * uniforms)),
          std::vector<double>(static_cast<std::size_t>(n * normals))};
  std::vector<Generator::Block> normal_blocks(d.z.size());
  for (std::int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < uniforms; ++j)
      d.u[i * uniforms + j] = Generator::uniform_of(blocks[i * per + j]);
    for (int j = 0; j < normals; ++j)
      normal_blocks[i * normals + j] = blocks[i * per + uniforms + j];
  }
  Generator::normals_of(normal_blocks.data(), n * normals, d.z.data());
  return d;
}

std::vector<double> normalised_cumulative(const std::vector<double>& w, const char* who) {
  if (w.empty()) throw std::invalid_argument(std::string(who) + ": no weights");
  double total = 0;
  for (double x : w) {
    if (!(x >= 0) || !std::isfinite(x)) {
      throw std::invalid_argument(std::string(who) + ": weights must be finite and >= 0");
    }
    total += x;
  }
  if (!(total > 0)) throw std::invalid_argument(std::string(who) + ": weights sum to 0");
  std::vector<double> c(w.size());
  double run = 0;
  for (std::size_t i = 0; i < w.size(); ++i) c[i] = (run += w[i] / total);
  return c;
}

double wrap_angle(double a) {  // to (-pi, pi]
  a = std::fmod(a + kPi, 2 * kPi);
  if (a <= 0) a += 2 * kPi;
  return a - kPi;
}

}  // namespace

Tensor Dataset::log_density(const Tensor&) const {
  throw std::logic_error("the " + name() + " dataset has no closed-form density");
}

// --- rings -------------------------------------------------------------------------------

Rings::Rings(RingsConfig c) : config_(std::move(c)) {
  if (config_.lobes < 1 || !(config_.alpha > 0 && config_.alpha <= 1) || !(config_.radius > 0) ||
      !(config_.radial_std >= 0) || static_cast<int>(config_.weights.size()) != config_.lobes) {
    std::ostringstream m;
    m << "Rings: need lobes >= 1, 0 < alpha <= 1, radius > 0, radial_std >= 0 and one weight "
         "per lobe; got lobes = "
      << config_.lobes << ", alpha = " << config_.alpha << ", radius = " << config_.radius
      << ", radial_std = " << config_.radial_std << ", " << config_.weights.size() << " weights";
    throw std::invalid_argument(m.str());
  }
  cumulative_ = normalised_cumulative(config_.weights, "Rings");
}

double Rings::lobe_centre(int k) const {
  return wrap_angle(2 * kPi * k / config_.lobes);
}
double Rings::lobe_half_width() const {
  return config_.alpha * kPi / config_.lobes;
}

namespace {
double checked_noise(double noise, const char* who) {
  if (!(std::isfinite(noise) && noise >= 0))
    throw std::invalid_argument(std::string(who) + ": noise must be finite and >= 0, got " +
                                std::to_string(noise));
  return noise;
}
}  // namespace

EightGaussians::EightGaussians(double radius, double std) : radius_(radius), std_(std) {
  if (!(std::isfinite(radius) && radius >= 0 && std::isfinite(std) && std > 0))
    throw std::invalid_argument(
        "EightGaussians: radius must be finite and >= 0 and std finite "
        "and > 0, got radius = " +
        std::to_string(radius) + ", std = " + std::to_string(std));
}
Moons::Moons(double noise) : noise_(checked_noise(noise, "Moons")) {}
Spirals::Spirals(double noise) : noise_(checked_noise(noise, "Spirals")) {}

int Rings::nearest_lobe(double angle) const {
  if (!std::isfinite(angle))
    throw std::invalid_argument("Rings::nearest_lobe: the angle is not finite");
  const double sector = 2 * kPi / config_.lobes;
  const double a = std::fmod(angle + sector / 2 + 4 * kPi, 2 * kPi);
  return static_cast<int>(a / sector) % config_.lobes;
}

int Rings::lobe_of_angle(double angle) const {
  const int k = nearest_lobe(angle);
  return std::abs(wrap_angle(angle - lobe_centre(k))) <= lobe_half_width() ? k : -1;
}

Tensor Rings::sample(std::int64_t n, Generator& gen, DType dtype) const {
  check_n(n);
  std::vector<double> out(static_cast<std::size_t>(2 * n));
  const Draws d = draw(gen, n, 2, 1);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<int>(pick(cumulative_, d.u[2 * i]));
    const double angle = lobe_centre(k) + (2 * d.u[2 * i + 1] - 1) * lobe_half_width();
    const double r = config_.radius + config_.radial_std * d.z[i];
    out[2 * i] = r * std::cos(angle);
    out[2 * i + 1] = r * std::sin(angle);
  }
  return from_vector(out, Shape{n, 2}, dtype);
}

// --- checkerboard --------------------------------------------------------------------------

namespace {
constexpr double kCheckerScale = 0.45;
// Eight unit squares scaled by 1 / 0.45 in each coordinate.
constexpr double kCheckerArea = 8.0 / (kCheckerScale * kCheckerScale);
}  // namespace

Tensor Checkerboard::sample(std::int64_t n, Generator& gen, DType dtype) const {
  check_n(n);
  std::vector<double> out(static_cast<std::size_t>(2 * n));
  for (std::int64_t i = 0; i < n; ++i) {
    // The official code: a ~ U[-2, 2), b = U[0, 1) - 2 Bernoulli(1/2), c = b + (floor(a) mod 2).
    const double a = 4 * gen.uniform() - 2;
    const double b = gen.uniform() - 2.0 * (gen.uniform() < 0.5 ? 1.0 : 0.0);
    const double c = b + std::fmod(std::floor(a) + 4.0, 2.0);
    out[2 * i] = a / kCheckerScale;
    out[2 * i + 1] = c / kCheckerScale;
  }
  return from_vector(out, Shape{n, 2}, dtype);
}

Tensor Checkerboard::log_density(const Tensor& x) const {
  check_points(*this, x);
  const std::vector<double> v = x.to_vector();
  const std::int64_t n = x.shape()[0];
  std::vector<double> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double a = v[2 * i] * kCheckerScale, c = v[2 * i + 1] * kCheckerScale;
    bool inside = a >= -2 && a < 2 && c >= -2 && c < 2;
    if (inside) {
      // The support: unit cells (floor(a), floor(c)) with floor(a) + floor(c) even.
      const auto col = static_cast<long>(std::floor(a)), row = static_cast<long>(std::floor(c));
      inside = ((col + row) % 2 + 2) % 2 == 0;
    }
    out[i] = inside ? -std::log(kCheckerArea) : -std::numeric_limits<double>::infinity();
  }
  return from_vector(out, Shape{n}, x.dtype());
}

// --- 8 gaussians ---------------------------------------------------------------------------

Tensor EightGaussians::sample(std::int64_t n, Generator& gen, DType dtype) const {
  return draw_points(n, gen, dtype, false).x;
}

Dataset::Labeled EightGaussians::sample_labeled(std::int64_t n, Generator& gen, DType dtype) const {
  return draw_points(n, gen, dtype, true);
}

Dataset::Labeled EightGaussians::draw_points(std::int64_t n, Generator& gen, DType dtype,
                                             bool labels) const {
  check_n(n);
  std::vector<double> classes(labels ? static_cast<std::size_t>(n) : 0);
  std::vector<double> out(static_cast<std::size_t>(2 * n));
  // The eight centres once per call, not a cos and a sin per point.
  double cx[8], cy[8];
  for (int k = 0; k < 8; ++k) {
    const double angle = 2 * kPi * k / 8;
    cx[k] = radius_ * std::cos(angle);
    cy[k] = radius_ * std::sin(angle);
  }
  const Draws d = draw(gen, n, 1, 2);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<int>(d.u[i] * 8) % 8;
    out[2 * i] = cx[k] + std_ * d.z[2 * i];
    out[2 * i + 1] = cy[k] + std_ * d.z[2 * i + 1];
    if (labels) classes[static_cast<std::size_t>(i)] = k;
  }
  return {from_vector(out, Shape{n, 2}, dtype),
          labels ? from_vector(classes, Shape{n}, DType::i64) : Tensor()};
}

Tensor EightGaussians::log_density(const Tensor& x) const {
  check_points(*this, x);
  const std::vector<double> v = x.to_vector();
  const std::int64_t n = x.shape()[0];
  std::vector<double> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    double terms[8], mx = -std::numeric_limits<double>::infinity();
    for (int k = 0; k < 8; ++k) {
      const double angle = 2 * kPi * k / 8;
      const double dx = v[2 * i] - radius_ * std::cos(angle);
      const double dy = v[2 * i + 1] - radius_ * std::sin(angle);
      terms[k] = -(dx * dx + dy * dy) / (2 * std_ * std_);
      mx = std::max(mx, terms[k]);
    }
    double s = 0;
    for (double t : terms) s += std::exp(t - mx);
    out[i] = mx + std::log(s / 8) - kLogTwoPi - 2 * std::log(std_);
  }
  return from_vector(out, Shape{n}, x.dtype());
}

// --- moons and spirals ---------------------------------------------------------------------

Tensor Moons::sample(std::int64_t n, Generator& gen, DType dtype) const {
  check_n(n);
  std::vector<double> out(static_cast<std::size_t>(2 * n));
  const Draws d = draw(gen, n, 2, 2);
  for (std::int64_t i = 0; i < n; ++i) {
    const double theta = kPi * d.u[2 * i];
    const bool upper = d.u[2 * i + 1] < 0.5;
    out[2 * i] = (upper ? std::cos(theta) : 1 - std::cos(theta)) + noise_ * d.z[2 * i];
    out[2 * i + 1] = (upper ? std::sin(theta) : 0.5 - std::sin(theta)) + noise_ * d.z[2 * i + 1];
  }
  return from_vector(out, Shape{n, 2}, dtype);
}

Tensor Spirals::sample(std::int64_t n, Generator& gen, DType dtype) const {
  check_n(n);
  std::vector<double> out(static_cast<std::size_t>(2 * n));
  const Draws d = draw(gen, n, 2, 2);
  for (std::int64_t i = 0; i < n; ++i) {
    // sqrt spreads the points evenly along the arm's length rather than its angle.
    const double theta = 3 * kPi * std::sqrt(d.u[2 * i]);
    const double r = 2 * theta / (3 * kPi) + 0.1;
    const double phase = d.u[2 * i + 1] < 0.5 ? 0.0 : kPi;
    out[2 * i] = r * std::cos(theta + phase) + noise_ * d.z[2 * i];
    out[2 * i + 1] = r * std::sin(theta + phase) + noise_ * d.z[2 * i + 1];
  }
  return from_vector(out, Shape{n, 2}, dtype);
}

// --- 1-D mixture ---------------------------------------------------------------------------

Mixture1D::Mixture1D(std::vector<double> w, std::vector<double> m, std::vector<double> s)
    : weights_(std::move(w)), means_(std::move(m)), stds_(std::move(s)) {
  if (weights_.size() != means_.size() || weights_.size() != stds_.size()) {
    throw std::invalid_argument("Mixture1D: weights, means and stds must have the same length");
  }
  for (double sd : stds_) {
    if (!(sd > 0)) throw std::invalid_argument("Mixture1D: every std must be > 0");
  }
  const std::vector<double> c = normalised_cumulative(weights_, "Mixture1D");
  double prev = 0;
  for (std::size_t k = 0; k < c.size(); ++k) {
    weights_[k] = c[k] - prev;
    prev = c[k];
  }
}

Tensor Mixture1D::sample(std::int64_t n, Generator& gen, DType dtype) const {
  check_n(n);
  std::vector<double> c(weights_.size());
  std::partial_sum(weights_.begin(), weights_.end(), c.begin());
  std::vector<double> out(static_cast<std::size_t>(n));
  const Draws d = draw(gen, n, 1, 1);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::size_t k = pick(c, d.u[i]);
    out[i] = means_[k] + stds_[k] * d.z[i];
  }
  return from_vector(out, Shape{n, 1}, dtype);
}

Tensor Mixture1D::log_density(const Tensor& x) const {
  check_points(*this, x);
  const std::vector<double> v = x.to_vector();
  std::vector<double> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    double mx = -std::numeric_limits<double>::infinity();
    std::vector<double> terms(weights_.size());
    for (std::size_t k = 0; k < weights_.size(); ++k) {
      const double z = (v[i] - means_[k]) / stds_[k];
      terms[k] = std::log(weights_[k]) - 0.5 * z * z - std::log(stds_[k]) - 0.5 * kLogTwoPi;
      mx = std::max(mx, terms[k]);
    }
    double s = 0;
    for (double t : terms) s += std::exp(t - mx);
    out[i] = mx + std::log(s);
  }
  return from_vector(out, Shape{x.shape()[0]}, x.dtype());
}

// --- Gaussian ------------------------------------------------------------------------------

Gaussian::Gaussian(std::vector<double> mean, std::vector<double> cov) : mean_(std::move(mean)) {
  const std::size_t d = mean_.size();
  if (d == 0 || cov.size() != d * d) {
    std::ostringstream m;
    m << "Gaussian: mean has " << d << " entries, so cov needs " << d * d << ", got " << cov.size();
    throw std::invalid_argument(m.str());
  }
  chol_.assign(d * d, 0.0);
  for (std::size_t i = 0; i < d; ++i) {
    for (std::size_t j = 0; j <= i; ++j) {
      if (std::abs(cov[i * d + j] - cov[j * d + i]) > 1e-12 * (1 + std::abs(cov[i * d + j]))) {
        throw std::invalid_argument("Gaussian: cov is not symmetric");
      }
      double s = cov[i * d + j];
      for (std::size_t k = 0; k < j; ++k) s -= chol_[i * d + k] * chol_[j * d + k];
      if (i == j) {
        if (!(s > 0)) throw std::invalid_argument("Gaussian: cov is not positive definite");
        chol_[i * d + i] = std::sqrt(s);
        log_det_ += 2 * std::log(chol_[i * d + i]);
      } else {
        chol_[i * d + j] = s / chol_[j * d + j];
      }
    }
  }
}

Tensor Gaussian::sample(std::int64_t n, Generator& gen, DType dtype) const {
  check_n(n);
  const std::size_t d = mean_.size();
  std::vector<double> out(static_cast<std::size_t>(n) * d);
  const std::vector<double> z = draw(gen, n, 0, static_cast<int>(d)).z;
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::size_t r = 0; r < d; ++r) {
      double s = mean_[r];
      for (std::size_t k = 0; k <= r; ++k) s += chol_[r * d + k] * z[i * d + k];
      out[i * d + r] = s;
    }
  }
  return from_vector(out, Shape{n, static_cast<std::int64_t>(d)}, dtype);
}

Tensor Gaussian::log_density(const Tensor& x) const {
  check_points(*this, x);
  const std::size_t d = mean_.size();
  const std::vector<double> v = x.to_vector();
  const std::int64_t n = x.shape()[0];
  std::vector<double> out(static_cast<std::size_t>(n)), y(d);
  for (std::int64_t i = 0; i < n; ++i) {
    double q = 0;
    for (std::size_t r = 0; r < d; ++r) {  // forward substitution L y = x - m
      double s = v[i * d + r] - mean_[r];
      for (std::size_t k = 0; k < r; ++k) s -= chol_[r * d + k] * y[k];
      y[r] = s / chol_[r * d + r];
      q += y[r] * y[r];
    }
    out[i] = -0.5 * (q + log_det_ + static_cast<double>(d) * kLogTwoPi);
  }
  return from_vector(out, Shape{n}, x.dtype());
}

// --- registry ------------------------------------------------------------------------------

std::vector<std::string> dataset_names() {
  return {"rings", "checkerboard", "8gaussians", "moons", "spirals", "gmm1d", "gaussian"};
}

TensorDataset::TensorDataset(Tensor points, Tensor conditions, std::string name,
                             std::int64_t classes)
    : points_(std::move(points)), conditions_(std::move(conditions)), name_(std::move(name)) {
  if (!points_.defined() || points_.rank() != 2 || !is_floating(points_.dtype()) ||
      points_.shape()[0] < 1 || points_.shape()[1] < 1)
    throw std::invalid_argument(
        "TensorDataset: points must be a floating [n, d] tensor with "
        "n, d >= 1, got " +
        (points_.defined() ? points_.str() : std::string("none")));
  points_ = to_host(points_);
  const std::int64_t n = points_.shape()[0];
  if (!conditions_.defined()) return;
  conditions_ = to_host(conditions_);
  if (conditions_.dtype() == DType::i64) {
    if (conditions_.rank() != 1 || conditions_.size(0) != n)
      throw std::invalid_argument("TensorDataset: labels must be [" + std::to_string(n) +
                                  "] (one per point), got " + conditions_.str());
    std::int64_t largest = -1;
    for (double v : conditions_.to_vector()) {
      if (v < 0)
        throw std::invalid_argument("TensorDataset: label " +
                                    std::to_string(static_cast<long long>(v)) +
                                    " is negative (labels are 0, 1, ...)");
      largest = std::max(largest, static_cast<std::int64_t>(v));
    }
    if (largest >= (std::int64_t{1} << 16))
      throw std::invalid_argument("TensorDataset: label " + std::to_string(largest) +
                                  " (at most 65536 classes)");
    if (classes > (std::int64_t{1} << 16))
      throw std::invalid_argument("TensorDataset: " + std::to_string(classes) +
                                  " classes (at most 65536)");
    if (classes > 0 && largest >= classes)
      throw std::invalid_argument("TensorDataset: label " + std::to_string(largest) +
                                  " is not below the " + std::to_string(classes) + " classes");
    spec_ = {ConditionKind::labels, classes > 0 ? classes : largest + 1, 0};
  } else if (is_floating(conditions_.dtype())) {
    if (conditions_.rank() != 2 || conditions_.size(0) != n)
      throw std::invalid_argument("TensorDataset: context vectors must be [" + std::to_string(n) +
                                  ", k] (one row per point), got " + conditions_.str());
    for (double x : conditions_.to_vector())
      if (!std::isfinite(x))
        throw std::invalid_argument(
            "TensorDataset: context vectors must be finite (a NaN row "
            "means no condition, which is for sampling, not for data)");
    spec_ = {ConditionKind::context, 0, conditions_.size(1)};
  } else {
    throw std::invalid_argument(
        "TensorDataset: conditions are i64 labels or floating context, "
        "got " +
        conditions_.str());
  }
}

std::vector<std::int64_t> TensorDataset::draw_rows(std::int64_t n, Generator& gen) const {
  check_n(n);
  std::vector<std::int64_t> rows(static_cast<std::size_t>(n));
  const auto size = static_cast<double>(points_.shape()[0]);
  for (auto& r : rows)
    r = std::min(static_cast<std::int64_t>(gen.uniform() * size), points_.shape()[0] - 1);
  return rows;
}

Tensor TensorDataset::sample(std::int64_t n, Generator& gen, DType dtype) const {
  return to_dtype(take_rows(points_, draw_rows(n, gen)), dtype);
}

Dataset::Labeled TensorDataset::subset(std::int64_t n, Generator& gen, DType dtype) const {
  if (n < 0 || n > size())
    throw std::invalid_argument("TensorDataset::subset: asked for " + std::to_string(n) +
                                " distinct rows of " + std::to_string(size()));
  // The last n entries of a partly shuffled order: n rows drawn without replacement.
  std::vector<std::int64_t> order(static_cast<std::size_t>(size()));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  shuffle_tail(order, n, gen);
  const std::vector<std::int64_t> rows(order.end() - n, order.end());
  return {to_dtype(take_rows(points_, rows), dtype),
          conditions_.defined() ? take_rows(conditions_, rows) : Tensor()};
}

Dataset::Labeled TensorDataset::sample_labeled(std::int64_t n, Generator& gen, DType dtype) const {
  const std::vector<std::int64_t> rows = draw_rows(n, gen);
  return {to_dtype(take_rows(points_, rows), dtype),
          conditions_.defined() ? take_rows(conditions_, rows) : Tensor()};
}

std::unique_ptr<Dataset> make_dataset(std::string_view name) {
  if (name == "rings") return std::make_unique<Rings>();
  if (name == "checkerboard") return std::make_unique<Checkerboard>();
  if (name == "8gaussians") return std::make_unique<EightGaussians>();
  if (name == "moons") return std::make_unique<Moons>();
  if (name == "spirals") return std::make_unique<Spirals>();
  if (name == "gmm1d") return std::make_unique<Mixture1D>();
  if (name == "gaussian")
    return std::make_unique<Gaussian>(std::vector<double>{0, 0}, std::vector<double>{1, 0, 0, 1});
  std::string list;
  for (const auto& n : dataset_names()) list += (list.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown dataset '" + std::string(name) +
                              "'; expected one of: " + list);
}

}  // namespace flowtape::flows
