// SPDX-License-Identifier: MIT
// The closed-form empirical velocity; see closed_form.hpp.
#include "flowtape/flows/closed_form.hpp"

#include <sstream>
#include <stdexcept>

#include "flowtape/flows/path.hpp"

namespace flowtape::flows {

namespace {

struct Prepared {
  Tensor t, sigma;  // [B, 1]
};

Prepared prepare(const Tensor& x, const Tensor& t, const Tensor& data, double sigma_min,
                 double sigma_floor) {
  if (x.rank() != 2 || data.rank() != 2 || x.shape()[1] != data.shape()[1]) {
    std::ostringstream m;
    m << "empirical_velocity: x must be [B, d] and data [n, d], got " << x.shape() << " and "
      << data.shape();
    throw std::invalid_argument(m.str());
  }
  if (data.shape()[0] == 0) throw std::invalid_argument("empirical_velocity: data is empty");
  if (!(sigma_min >= 0 && sigma_min < 1) || !(sigma_floor > 0)) {
    std::ostringstream m;
    m << "empirical_velocity: need 0 <= sigma_min < 1 and sigma_floor > 0, got " << sigma_min
      << " and " << sigma_floor;
    throw std::invalid_argument(m.str());
  }
  Prepared p;
  p.t = as_time_column(t, x.shape()[0]);
  const Tensor sigma = 1.0 - (1.0 - sigma_min) * p.t;
  const Tensor floor = scalar_like(sigma, sigma_floor);
  p.sigma = where(greater(sigma, floor), sigma, floor);
  return p;
}

Tensor logits(const Tensor& x, const Prepared& p, const Tensor& data) {
  // -||x - t x_i||^2 / (2 s^2) = (t x.x_i - t^2 ||x_i||^2 / 2) / s^2 + (a term without i)
  const Tensor cross = matmul(x, data, false, true);                         // [B, n]
  const Tensor norms = reshape(sum(square(data), 1), {1, data.shape()[0]});  // [1, n]
  return (p.t * cross - 0.5 * square(p.t) * norms) / square(p.sigma);
}

Tensor weights(const Tensor& x, const Prepared& p, const Tensor& data) {
  return softmax(logits(x, p, data), 1);
}

}  // namespace

Tensor empirical_weights(const Tensor& x, const Tensor& t, const Tensor& data, double sigma_min,
                         double sigma_floor) {
  return weights(x, prepare(x, t, data, sigma_min, sigma_floor), data);
}

Tensor empirical_log_weights(const Tensor& x, const Tensor& t, const Tensor& data, double sigma_min,
                             double sigma_floor) {
  const Tensor l = logits(x, prepare(x, t, data, sigma_min, sigma_floor), data);
  return l - logsumexp(l, 1, /*keepdims=*/true);
}

Tensor empirical_velocity(const Tensor& x, const Tensor& t, const Tensor& data, double sigma_min,
                          double sigma_floor) {
  const Prepared p = prepare(x, t, data, sigma_min, sigma_floor);
  const Tensor mean_target = matmul(weights(x, p, data), data);  // [B, d]
  return (mean_target - (1.0 - sigma_min) * x) / p.sigma;
}

VelocityField empirical_velocity_field(Tensor data, double sigma_min, double sigma_floor) {
  return [data = std::move(data), sigma_min, sigma_floor](const Tensor& x, const Tensor& t) {
    return empirical_velocity(x, t, data, sigma_min, sigma_floor);
  };
}

}  // namespace flowtape::flows
