// SPDX-License-Identifier: MIT
// The vocabulary of integrate(): the vector field type, the options, the result and the error
// a failed solve throws.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "flowtape/runtime/tensor.hpp"
#include "flowtape/solvers/method.hpp"

namespace flowtape::solvers {

// dy/dt = f(t, y). The returned tensor must have y's shape and dtype.
using VectorField = std::function<Tensor(double t, const Tensor& y)>;

// A state of several tensors, integrated together without concatenating them: a likelihood's
// (x, log p), an adjoint's (y, a, parameter gradients). Each component has its own shape and
// dtype; the error norm is taken per component (ErrorNorm below), and the largest counts.
using TensorTuple = std::vector<Tensor>;
// d/dt (y_1, ..., y_n) = f(t, (y_1, ..., y_n)); the result has the state's components, shapes
// and dtypes.
using TupleField = std::function<TensorTuple(double t, const TensorTuple& y)>;

// A step-size controller's verdict on a trial step: accept it or not, and the factor for the
// next step size (h_next = factor * h).
struct StepDecision {
  bool accept;
  double factor;
};

// How a trial step's scaled error becomes one number, per component of the state; a tuple
// state takes the largest over its components, so a small component (one log-density per
// sample beside a [B, d] position) is held to the tolerance as tightly as a large one.
enum class ErrorNorm {
  rms,             // root mean square over the component
  per_sample_rms,  // axis 0 is the batch: the largest of the samples' RMS errors
};

struct IntegrateOptions {
  Method method = Method::dopri5;
  double rtol = 1e-5, atol = 1e-6;  // both finite and > 0
  // Adaptive methods: the first step (0: Hairer's automatic choice). Fixed-step methods: the
  // step size. A magnitude; the direction comes from t1 - t0.
  double dt0 = 0;
  // Number of equal steps (alternative to dt0). Given for an adaptive method, it runs that
  // method's high-order solution on the fixed grid with the controller off.
  int n_steps = 0;
  long max_steps = 100000;  // attempted steps (accepted + rejected)
  // Times to save at, monotone in the direction t0 -> t1 and within [t0, t1]; reached by dense
  // output, never stepped on. Empty: only the final state.
  std::vector<double> save_at = {};
  ErrorNorm norm = ErrorNorm::rms;
  double safety = 0.9, factor_min = 0.2, factor_max = 10.0;
  // The PID step-size controller's coefficients (controller.hpp): the default is the PI
  // controller diffrax recommends; pcoeff = 0, icoeff = 1 is the classic I controller, and
  // dcoeff > 0 adds the derivative term.
  double pcoeff = 0.4, icoeff = 0.3, dcoeff = 0.0;
  // Your own controller instead: given each trial step's scaled error norm (<= 1 is within
  // tolerance) and its signed size (negative when t1 < t0), accept or reject it and say how
  // to scale the next step.
  // factor_min / factor_max still bound its factor; a non-finite error never reaches it.
  std::function<StepDecision(double err, double h)> controller = {};
  // 0: an automatic underflow guard, 4 ulps of max(|t|, eps |t1 - t0|) (controller.hpp); the
  // step that lands on t1 is exempt.
  double dt_min = 0;
  // Keep every accepted step's interpolant, so Solution::evaluate(t) gives the state anywhere
  // in [t0, t1] (memory grows with the steps; a method without its own interpolant may cost
  // one more evaluation of f at the very end).
  bool dense = false;
};

struct Stats {
  long nfe = 0;       // evaluations of f
  long accepted = 0;  // accepted steps (every step, for fixed-step runs)
  long rejected = 0;
};

class DenseOutput;  // dense_output.hpp

// The result of a solve whose state is a Y (a Tensor, or a TensorTuple).
template <class Y>
struct BasicSolution {
  std::vector<double> ts;  // save_at, or {t1}
  std::vector<Y> ys;       // the state at each of ts
  Stats stats;
  std::vector<double> step_ts;  // t0 and the end of every accepted step, in order
  std::shared_ptr<const DenseOutput> dense;  // with IntegrateOptions::dense

  // The state at any t in [t0, t1] by the step's interpolant (IntegrateOptions::dense needed;
  // std::logic_error without it, std::invalid_argument for t outside).
  Y evaluate(double t) const;
};
using Solution = BasicSolution<Tensor>;
using TupleSolution = BasicSolution<TensorTuple>;
template <>
Tensor BasicSolution<Tensor>::evaluate(double t) const;
template <>
TensorTuple BasicSolution<TensorTuple>::evaluate(double t) const;

// A solve that could not finish: step size underflow, max_steps reached, non-finite state or
// derivative. The message names the time and the step reached; so do the accessors. The solve
// so far is not lost: last_t() and last_y() are the last accepted state (t0 and y0 if no step
// was accepted), stats() what it cost.
class SolverError : public std::runtime_error {
 public:
  SolverError(const std::string& what, double t, long step, TensorTuple last_y = {},
              Stats stats = {})
      : std::runtime_error(what), t_(t), step_(step), last_y_(std::move(last_y)), stats_(stats) {}
  double t() const { return t_; }
  long step() const { return step_; }
  double last_t() const { return t_; }
  // The last accepted state of a Tensor solve (its first component for a tuple solve).
  const Tensor& last_y() const {
    static const Tensor none;
    return last_y_.empty() ? none : last_y_.front();
  }
  // The last accepted state of a tuple solve.
  const TensorTuple& last_state() const { return last_y_; }
  const Stats& stats() const { return stats_; }

 private:
  double t_;
  long step_;
  TensorTuple last_y_;
  Stats stats_;
};

}  // namespace flowtape::solvers
