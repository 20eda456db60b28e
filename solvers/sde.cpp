// SPDX-License-Identifier: MIT
// Euler-Maruyama on a grid made of n_steps equal steps plus the save times.
#include "flowtape/solvers/sde.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/ops.hpp"
#include "flowtape/solvers/error_norm.hpp"

namespace flowtape::solvers {

Solution euler_maruyama(const VectorField& f, const VectorField& g, const Tensor& y0, double t0,
                        double t1, int n_steps, Generator& gen,
                        const std::vector<double>& save_at) {
  if (!f || !g) throw std::invalid_argument("euler_maruyama: f and g must be callable");
  if (!y0.defined() || y0.numel() == 0)
    throw std::invalid_argument("euler_maruyama: y0 must be a non-empty tensor");
  if (n_steps <= 0) throw std::invalid_argument("euler_maruyama: n_steps must be > 0");
  // Each step's time is recorded (Solution::step_ts) and the grid is built before the first
  // step: refused here rather than failing to allocate gigabytes.
  constexpr int kMostSteps = 100'000'000;
  if (n_steps > kMostSteps)
    throw std::invalid_argument("euler_maruyama: n_steps = " + std::to_string(n_steps) +
                                " exceeds " + std::to_string(kMostSteps) + ", the most it records");
  if (!std::isfinite(t0) || !std::isfinite(t1))
    throw std::invalid_argument("euler_maruyama: t0 and t1 must be finite");
  const double dir = t1 >= t0 ? 1.0 : -1.0;
  for (std::size_t i = 0; i < save_at.size(); ++i) {
    const double s = save_at[i];
    if (!std::isfinite(s) || (s - t0) * dir < 0 || (s - t1) * dir > 0)
      throw std::invalid_argument("euler_maruyama: save_at[" + std::to_string(i) +
                                  "] = " + std::to_string(s) + " is outside [t0, t1]");
    if (i > 0 && (s - save_at[i - 1]) * dir < 0)
      throw std::invalid_argument("euler_maruyama: save_at must be monotone from t0 towards t1");
  }

  // The grid: equal steps, with the save times merged in (in the direction of integration).
  const double h = (t1 - t0) / n_steps;
  std::vector<double> grid;
  grid.reserve(static_cast<std::size_t>(n_steps) + save_at.size() + 1);
  for (int i = 0; i < n_steps; ++i) grid.push_back(t0 + i * h);
  grid.push_back(t1);
  grid.insert(grid.end(), save_at.begin(), save_at.end());
  std::sort(grid.begin(), grid.end(), [dir](double a, double b) { return (a - b) * dir < 0; });
  grid.erase(std::unique(grid.begin(), grid.end()), grid.end());

  const std::vector<double> ts = save_at.empty() ? std::vector<double>{t1} : save_at;
  Solution out;
  out.ts = ts;
  std::size_t next = 0;
  Tensor y = y0;
  for (; next < ts.size() && ts[next] == t0; ++next) out.ys.push_back(y);
  out.step_ts.push_back(t0);
  for (std::size_t i = 0; i + 1 < grid.size(); ++i) {
    const double t = grid[i], dt = grid[i + 1] - t;
    const Tensor dw = randn(y.shape(), gen, y.dtype(), y.device()) * std::sqrt(std::abs(dt));
    const Tensor drift = f(t, y), diffusion = g(t, y);
    if (!drift.defined() || !diffusion.defined())
      throw std::invalid_argument("euler_maruyama: f or g returned an undefined tensor");
    const Tensor next_y = y + drift * dt + diffusion * dw;
    // f and g may broadcast (a scalar diffusion), but not change the state's shape.
    if (next_y.shape() != y.shape())
      throw std::invalid_argument("euler_maruyama: f (" + drift.shape().str() + ") and g (" +
                                  diffusion.shape().str() + ") turn the state's shape " +
                                  y.shape().str() + " into " + next_y.shape().str());
    ++out.stats.nfe;
    if (!all_finite(next_y)) {
      // As integrate()'s errors: the time and state are the last accepted ones, the stats
      // what the solve cost.
      std::ostringstream msg;
      msg.precision(17);
      msg << "euler_maruyama: non-finite state in the step from t = " << t << " to " << grid[i + 1]
          << " (step " << i + 1 << ")";
      throw SolverError(msg.str(), t, static_cast<long>(i + 1), {y}, out.stats);
    }
    y = next_y;
    ++out.stats.accepted;
    out.step_ts.push_back(grid[i + 1]);
    for (; next < ts.size() && ts[next] == grid[i + 1]; ++next) out.ys.push_back(y);
  }
  return out;
}

}  // namespace flowtape::solvers
