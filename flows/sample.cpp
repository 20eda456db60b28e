// SPDX-License-Identifier: MIT
// Sampling by integrating the velocity field; see sample.hpp.
#include "flowtape/flows/sample.hpp"

#include <sstream>
#include <stdexcept>

namespace flowtape::flows {

solvers::VectorField as_vector_field(VelocityField v) {
  return [v = std::move(v)](double t, const Tensor& y) { return v(y, time_column(t, y)); };
}

SampleResult sample(const VelocityField& v, const Tensor& x0, const SampleOptions& o) {
  if (x0.rank() != 2) {
    std::ostringstream m;
    m << "sample: x0 must be [B, d], got " << x0.shape();
    throw std::invalid_argument(m.str());
  }
  solvers::IntegrateOptions opts = o.solver;
  // The sample is the state at t1; save_at would make the solution end elsewhere.
  if (!o.solver.save_at.empty())
    throw std::invalid_argument(
        "sample: solver.save_at must be empty (use trajectory_points for intermediate states)");
  if (o.trajectory_points == 1 || o.trajectory_points < 0) {
    throw std::invalid_argument("sample: trajectory_points must be 0 (none) or at least 2, got " +
                                std::to_string(o.trajectory_points));
  }
  if (o.trajectory_points > 1) {
    opts.save_at.clear();
    for (int i = 0; i < o.trajectory_points; ++i) {
      opts.save_at.push_back(i + 1 == o.trajectory_points
                                 ? o.t1
                                 : o.t0 + (o.t1 - o.t0) * i / (o.trajectory_points - 1));
    }
  }
  solvers::Solution sol = solvers::integrate(as_vector_field(v), x0, o.t0, o.t1, opts);
  SampleResult out;
  out.x = sol.ys.back();
  out.stats = sol.stats;
  if (o.trajectory_points > 1) {
    out.ts = std::move(sol.ts);
    out.trajectory = std::move(sol.ys);
  }
  return out;
}

}  // namespace flowtape::flows
