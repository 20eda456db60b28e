// SPDX-License-Identifier: MIT
// Direct and adjoint gradients of a loss on an ODE solution; see adjoint.hpp.
#include "flowtape/solvers/adjoint.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"
#include "flowtape/autodiff/verbs.hpp"
#include "flowtape/solvers/integrate.hpp"
#include "flowtape/solvers/tableau.hpp"

namespace flowtape::solvers {
namespace {

[[noreturn]] void bad(const std::string& what) {
  throw std::invalid_argument("solve_value_and_grad: " + what);
}

void require_scalar(const Tensor& l) {
  if (!l.defined() || l.numel() != 1) bad("the loss must return a scalar");
}

// The loss at y1 and its gradients, on a tape of their own: with respect to y1 (the adjoint's
// start) and, directly, to the parameters, for a loss that uses them besides through y1 (a
// weight penalty); the backward solve adds what flows through the trajectory.
struct LossAtEnd {
  Tensor loss, cotangent;
  std::vector<Tensor> direct_grad_params;
};

LossAtEnd loss_at_end(const std::function<Tensor(const Tensor&)>& loss, const Tensor& y1,
                      const std::vector<Tensor>& params) {
  detail::RecordingScope on(true);
  Tape tape;
  std::vector<Tensor> wrt{tape.watch(stop_gradient(y1))};
  for (const Tensor& p : params) wrt.push_back(tape.watch(p));
  const Tensor l = loss(wrt[0]);
  require_scalar(l);
  std::vector<Tensor> g = tape.gradient(l, wrt);
  return {stop_gradient(l), g[0], {g.begin() + 1, g.end()}};
}

SolveGradients direct(const VectorField& f, const std::vector<Tensor>& params, const Tensor& y0,
                      double t0, double t1, const std::function<Tensor(const Tensor&)>& loss,
                      const AdjointOptions& o) {
  detail::RecordingScope on(true);
  Tape tape;
  const Tensor y0_leaf = tape.watch(stop_gradient(y0));
  std::vector<Tensor> wrt{y0_leaf};
  for (const Tensor& p : params) wrt.push_back(tape.watch(p));
  const Solution s = integrate(f, y0_leaf, t0, t1, o.solver);
  const Tensor l = loss(s.ys.back());
  require_scalar(l);
  std::vector<Tensor> g = tape.gradient(l, wrt);
  SolveGradients out{stop_gradient(s.ys.back()), stop_gradient(l), g[0], {}, s.stats, {}};
  out.grad_params.assign(g.begin() + 1, g.end());
  return out;
}

// The checkpoint times from t0 to t1 (t1 last, t0 not included) and, on a fixed grid of
// n_steps, the steps between consecutive ones.
struct Checkpoints {
  std::vector<double> ts;
  std::vector<int> steps;  // fixed grids only
};

Checkpoints checkpoint_times(double t0, double t1, const AdjointOptions& o, bool fixed) {
  Checkpoints c;
  if (!fixed) {
    for (int i = 1; i <= o.checkpoints; ++i)
      c.ts.push_back(i == o.checkpoints ? t1 : t0 + (t1 - t0) * i / o.checkpoints);
    return c;
  }
  // On the grid's nodes, computed as integrate() computes them (t0 + i h; t1 exactly).
  const int n = o.solver.n_steps;
  const int k = std::min(o.checkpoints, n);
  const double h = (t1 - t0) / n;
  int done = 0;
  for (int i = 1; i <= k; ++i) {
    const int node = static_cast<int>(static_cast<long>(n) * i / k);
    c.ts.push_back(node == n ? t1 : t0 + static_cast<double>(node) * h);
    c.steps.push_back(node - done);
    done = node;
  }
  return c;
}

SolveGradients adjoint(const VectorField& f, const std::vector<Tensor>& params, const Tensor& y0,
                       double t0, double t1, const std::function<Tensor(const Tensor&)>& loss,
                       const AdjointOptions& o) {
  const Tableau& tab = tableau(o.solver.method);
  const bool fixed = !tab.adaptive() || o.solver.n_steps > 0;
  if (fixed && o.solver.n_steps == 0)
    bad("the adjoint on a fixed grid needs n_steps (a dt0-sized grid has no fixed checkpoints)");
  if (o.checkpoints < 1) bad("checkpoints must be >= 1");
  // (Each checkpoint's segment is at least one step; more would only hold states in memory.
  // A fixed grid uses at most n_steps of them, so only an adaptive solve can have too many.)
  if (!fixed && o.checkpoints > o.solver.max_steps) bad("checkpoints must be <= solver.max_steps");
  const Checkpoints cp = checkpoint_times(t0, t1, o, fixed);

  // Forward, recording nothing: the states at the checkpoints.
  std::vector<Tensor> states{stop_gradient(y0)};
  Stats forward;
  {
    NoGrad no_grad;
    IntegrateOptions fo = o.solver;
    fo.save_at = cp.ts;
    Solution s = integrate(f, states[0], t0, t1, fo);
    forward = s.stats;
    for (Tensor& y : s.ys) states.push_back(std::move(y));
  }
  SolveGradients out;
  out.y1 = states.back();
  out.forward = forward;
  LossAtEnd end = loss_at_end(loss, out.y1, params);
  out.loss = end.loss;
  const Tensor a = end.cotangent;

  // The augmented backward field on (y, a, g_1 .. g_P): f and its vector-Jacobian products,
  // each evaluation on a tape of its own.
  const TupleField augmented = [&](double t, const TensorTuple& s) {
    detail::RecordingScope on(true);
    Tape tape;
    std::vector<Tensor> wrt{tape.watch(stop_gradient(s[0]))};
    for (const Tensor& p : params) wrt.push_back(tape.watch(p));
    const Tensor fy = f(t, wrt[0]);
    const std::vector<Tensor> vjps = tape.gradient(fy, wrt, {.seed = s[1]});
    TensorTuple d{stop_gradient(fy)};
    for (const Tensor& v : vjps) d.push_back(-v);
    return d;
  };
  IntegrateOptions bo = o.solver;
  if (o.adjoint_rtol > 0) bo.rtol = o.adjoint_rtol;
  if (o.adjoint_atol > 0) bo.atol = o.adjoint_atol;
  bo.dt0 = 0;
  TensorTuple state{Tensor(), a};
  for (const Tensor& p : params) state.push_back(zeros_like(p));
  NoGrad no_grad;
  for (std::size_t i = cp.ts.size(); i-- > 0;) {
    const double from = cp.ts[i], to = i == 0 ? t0 : cp.ts[i - 1];
    state[0] = states[i + 1];  // restart y from the forward solve's checkpoint
    if (fixed) bo.n_steps = cp.steps[i];
    TupleSolution s = integrate(augmented, state, from, to, bo);
    state = std::move(s.ys.back());
    out.backward.nfe += s.stats.nfe;
    out.backward.accepted += s.stats.accepted;
    out.backward.rejected += s.stats.rejected;
  }
  out.grad_y0 = state[1];
  for (std::size_t i = 0; i < params.size(); ++i)
    out.grad_params.push_back(state[i + 2] + end.direct_grad_params[i]);
  return out;
}

}  // namespace

SolveGradients solve_value_and_grad(const VectorField& f, const std::vector<Tensor>& params,
                                    const Tensor& y0, double t0, double t1,
                                    const std::function<Tensor(const Tensor&)>& loss,
                                    GradientMethod method, const AdjointOptions& options) {
  if (Tape::active())
    throw std::logic_error(
        "solve_value_and_grad: a Tape is active; call it outside one (it records on tapes of "
        "its own, and tapes do not nest)");
  if (!f) bad("the vector field is empty");
  if (!loss) bad("the loss is empty");
  if (!y0.defined()) bad("y0 is undefined");
  for (std::size_t i = 0; i < params.size(); ++i)
    if (!params[i].defined()) bad("params[" + std::to_string(i) + "] is undefined");
  if (!options.solver.save_at.empty() || options.solver.dense)
    bad("the loss is on y(t1): leave save_at empty and dense off");
  const auto tolerance_ok = [](double tol) { return tol >= 0 && std::isfinite(tol); };
  if (!tolerance_ok(options.adjoint_rtol) || !tolerance_ok(options.adjoint_atol))
    bad("adjoint_rtol and adjoint_atol must be finite and >= 0 (0: the forward solve's)");
  return method == GradientMethod::direct ? direct(f, params, y0, t0, t1, loss, options)
                                          : adjoint(f, params, y0, t0, t1, loss, options);
}

}  // namespace flowtape::solvers
