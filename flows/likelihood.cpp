// SPDX-License-Identifier: MIT
// Log-likelihood by the augmented ODE; see likelihood.hpp.
#include "flowtape/flows/likelihood.hpp"

#include <cmath>
#include <numbers>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace flowtape::flows {

Tensor standard_normal_log_density(const Tensor& x) {
  const double d = static_cast<double>(x.shape()[1]);
  return -0.5 * sum(square(x), 1) - 0.5 * d * std::log(2 * std::numbers::pi);
}

LikelihoodResult log_likelihood(const VelocityField& v, const Tensor& x1,
                                const LikelihoodOptions& o) {
  if (x1.rank() != 2) {
    std::ostringstream m;
    m << "log_likelihood: x1 must be [B, d], got " << x1.shape();
    throw std::invalid_argument(m.str());
  }
  std::optional<NoGrad> no_grad;
  if (!o.differentiable) no_grad.emplace();
  std::vector<Tensor> probes;
  if (!o.exact_divergence) {
    Generator gen(o.seed);
    probes = make_probes(o.probe, o.probes, x1.shape(), gen, x1.dtype(), x1.device());
  }
  // The state is the tuple (x, l): each part keeps its shape, and the error norm holds l (one
  // number per row) to the tolerance on its own rather than averaged into x's d columns.
  const solvers::TupleField augmented = [&](double t, const solvers::TensorTuple& state) {
    const Tensor& x = state[0];
    const Tensor tc = time_column(t, x);
    const FieldAndDivergence fd =
        o.exact_divergence ? divergence_exact(v, x, tc) : divergence_hutchinson(v, x, tc, probes);
    return solvers::TensorTuple{fd.v, fd.div};
  };
  const solvers::TensorTuple start = {x1, zeros(Shape{x1.shape()[0], 1}, x1.dtype(), x1.device())};
  // The density is read at t0; save_at would make the solution end elsewhere.
  if (!o.solver.save_at.empty())
    throw std::invalid_argument("log_likelihood: solver.save_at must be empty");
  const solvers::TupleSolution sol = solvers::integrate(augmented, start, o.t1, o.t0, o.solver);
  const solvers::TensorTuple& end = sol.ys.back();
  LikelihoodResult r;
  r.x0 = end[0];
  const Tensor log_p0 =
      o.source_log_density ? o.source_log_density(r.x0) : standard_normal_log_density(r.x0);
  if (log_p0.rank() != 1 || log_p0.shape()[0] != x1.shape()[0])
    throw std::invalid_argument(
        "log_likelihood: source_log_density must return one value per "
        "row, [" +
        std::to_string(x1.shape()[0]) + "], got " + log_p0.shape().str());
  r.log_prob = log_p0 + reshape(end[1], {-1});
  r.stats = sol.stats;
  return r;
}

double mean_nll(const LikelihoodResult& r) {
  return -mean(r.log_prob).item();
}

double bits_per_dim(double nll_nats, std::int64_t dim) {
  return nll_nats / (static_cast<double>(dim) * std::numbers::ln2);
}

}  // namespace flowtape::flows
