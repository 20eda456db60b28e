// SPDX-License-Identifier: MIT
// The integration driver: option checks, the adaptive and the fixed-step loops, saving by
// dense output, and the failure modes (each a SolverError naming t and the step).
#include "flowtape/solvers/integrate.hpp"

#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "flowtape/autodiff/ops.hpp"
#include "flowtape/solvers/controller.hpp"
#include "flowtape/solvers/dense_output.hpp"
#include "flowtape/solvers/error_norm.hpp"
#include "flowtape/solvers/initial_step.hpp"
#include "flowtape/solvers/order_conditions.hpp"
#include "flowtape/solvers/stepper.hpp"
#include "flowtape/solvers/tableau.hpp"

namespace flowtape::solvers {
namespace {

[[noreturn]] void bad_option(const std::string& what) {
  throw std::invalid_argument("integrate: " + what);
}

void validate(const TupleField& f, const TensorTuple& y0, double t0, double t1,
              const IntegrateOptions& o, const Tableau& tab) {
  if (!f) bad_option("the vector field is empty");
  if (y0.empty()) bad_option("the state needs at least one component");
  for (std::size_t c = 0; c < y0.size(); ++c) {
    const std::string which =
        y0.size() == 1 ? std::string("y0") : "component " + std::to_string(c) + " of y0";
    if (!y0[c].defined() || y0[c].numel() == 0) bad_option(which + " must be a non-empty tensor");
    if (y0[c].dtype() != DType::f32 && y0[c].dtype() != DType::f64)
      bad_option(which + " is " + dtype_name(y0[c].dtype()) + "; states are f32 or f64");
  }
  if (!std::isfinite(t0) || !std::isfinite(t1)) bad_option("t0 and t1 must be finite");
  // atol > 0: the error scale atol + rtol |y| of a component at 0 would be 0, and 0 / 0 a NaN
  // step size. Infinite tolerances would turn error control off without saying so.
  if (!(o.rtol > 0) || !(o.atol > 0) || !std::isfinite(o.rtol) || !std::isfinite(o.atol))
    bad_option("rtol and atol must be finite and > 0 (got rtol = " + std::to_string(o.rtol) +
               ", atol = " + std::to_string(o.atol) + ")");
  // An adaptive method forms the scale atol + rtol |y| in the state's dtype, where a smaller
  // atol is lost (0, or a subnormal that the scale's arithmetic does not keep).
  for (const Tensor& y : y0)
    if (tab.adaptive() && y.dtype() == DType::f32 && o.atol < std::numeric_limits<float>::min()) {
      std::ostringstream what;
      what << "atol = " << o.atol << " is below the least normal f32 (1.2e-38), which an f32 "
           << "state cannot hold";
      bad_option(what.str());
    }
  if (!(o.dt0 >= 0) || !std::isfinite(o.dt0))
    bad_option("dt0 is a step magnitude and must be finite and >= 0");
  if (o.n_steps < 0) bad_option("n_steps must be >= 0");
  if (o.dt0 > 0 && o.n_steps > 0) bad_option("give dt0 or n_steps, not both");
  if (!tab.adaptive() && o.dt0 == 0 && o.n_steps == 0 && t0 != t1)
    bad_option("the fixed-step method '" + std::string(tab.name) +
               "' needs a step size dt0 > 0 or a step count n_steps > 0");
  if (o.max_steps <= 0) bad_option("max_steps must be > 0");
  if (o.n_steps > o.max_steps)
    bad_option("n_steps = " + std::to_string(o.n_steps) +
               " exceeds max_steps = " + std::to_string(o.max_steps));
  // dt0-sized fixed steps: their count is known before the run, so refused up front too.
  if (!tab.adaptive() && o.dt0 > 0 &&
      std::ceil(std::abs(t1 - t0) / o.dt0 * (1 - 1e-12)) > static_cast<double>(o.max_steps))
    bad_option("dt0 = " + std::to_string(o.dt0) + " needs more than max_steps = " +
               std::to_string(o.max_steps) + " steps to cover [t0, t1]");
  if (!(o.safety > 0 && o.safety <= 1)) bad_option("safety must be in (0, 1]");
  if (!(o.factor_min > 0 && o.factor_min < 1 && o.factor_max > 1))
    bad_option("need 0 < factor_min < 1 < factor_max");
  if (!(o.dt_min >= 0)) bad_option("dt_min must be >= 0");
  if (!std::isfinite(o.pcoeff) || !std::isfinite(o.icoeff) || !std::isfinite(o.dcoeff) ||
      !(o.pcoeff + o.icoeff + o.dcoeff > 0))
    bad_option("the controller's coefficients must be finite with pcoeff + icoeff + dcoeff > 0");
  const double dir = t1 >= t0 ? 1.0 : -1.0;
  for (std::size_t i = 0; i < o.save_at.size(); ++i) {
    const double s = o.save_at[i];
    if (!std::isfinite(s) || (s - t0) * dir < 0 || (s - t1) * dir > 0)
      bad_option("save_at[" + std::to_string(i) + "] = " + std::to_string(s) +
                 " is outside [t0, t1] = [" + std::to_string(t0) + ", " + std::to_string(t1) + "]");
    if (i > 0 && (s - o.save_at[i - 1]) * dir < 0)
      bad_option("save_at must be monotone from t0 towards t1 (save_at[" + std::to_string(i) +
                 "] = " + std::to_string(s) + " comes after " + std::to_string(o.save_at[i - 1]) +
                 ")");
  }
}

// f's first derivative must match the state, component for component: shape, dtype, device.
void check_derivative(const TensorTuple& f0, const TensorTuple& y0) {
  if (f0.size() != y0.size())
    bad_option("the vector field returned " + std::to_string(f0.size()) +
               " components for a state of " + std::to_string(y0.size()));
  for (std::size_t c = 0; c < y0.size(); ++c) {
    if (!f0[c].defined() || f0[c].shape() != y0[c].shape())
      bad_option("the vector field's component " + std::to_string(c) + " has shape " +
                 (f0[c].defined() ? f0[c].shape().str() : std::string("(undefined)")) +
                 ", the state's " + y0[c].shape().str());
    if (f0[c].dtype() != y0[c].dtype() || f0[c].device() != y0[c].device())
      bad_option("the vector field's component " + std::to_string(c) + " is " +
                 dtype_name(f0[c].dtype()) + " on " + device_name(f0[c].device()) +
                 ", the state's " + dtype_name(y0[c].dtype()) + " on " +
                 device_name(y0[c].device()));
  }
}

// t, y: the last accepted state, which the error hands back.
[[noreturn]] void fail(const Tableau& tab, const std::string& what, double t, long step,
                       const TensorTuple& y, const Stats& stats) {
  std::ostringstream msg;
  msg.precision(17);
  msg << "integrate(" << tab.name << "): " << what << " at t = " << t << " (step " << step << ")";
  throw SolverError(msg.str(), t, step, y, stats);
}

// Collects the states at the requested times as the solve passes them.
class Saver {
 public:
  Saver(const std::vector<double>& ts, double t1, double dir)
      : ts_(ts.empty() ? std::vector<double>{t1} : ts), dir_(dir) {
    ys_.reserve(ts_.size());
  }
  // Whether a requested time lies at or before t (in the direction of integration).
  bool pending_until(double t) const { return next_ < ts_.size() && (ts_[next_] - t) * dir_ <= 0; }
  // Whether a requested time lies strictly before t: saving up to t needs the interpolant.
  bool interpolates_before(double t) const {
    return next_ < ts_.size() && (ts_[next_] - t) * dir_ < 0;
  }
  // Saves every requested time in (ta, tb]; `at(theta)` interpolates, tb itself is y1.
  template <class Interp>
  void save_step(double ta, double tb, const TensorTuple& y1, Interp&& at) {
    for (; pending_until(tb); ++next_) {
      const double s = ts_[next_];
      ys_.push_back(s == tb ? y1 : at((s - ta) / (tb - ta)));
    }
  }
  void save_initial(double t0, const TensorTuple& y0) {
    for (; next_ < ts_.size() && ts_[next_] == t0; ++next_) ys_.push_back(y0);
  }
  TupleSolution finish(Stats stats, std::vector<double> step_ts,
                       std::shared_ptr<const DenseOutput> dense = nullptr) && {
    return {std::move(ts_), std::move(ys_), stats, std::move(step_ts), std::move(dense)};
  }

 private:
  std::vector<double> ts_;
  std::vector<TensorTuple> ys_;
  std::size_t next_ = 0;
  double dir_;
};

// An accepted step: kept for dense output, interpolated at the requested times inside it. What
// the interpolant needs is evaluated only for those steps; f(tb, y1) among it is the next
// step's first stage, returned so that it is not evaluated twice.
TensorTuple accept_step(const Tableau& tab, const TupleField& f, StepRecord step, Saver& saver,
                        DenseOutput* dense, Stats& stats) {
  if (dense || saver.interpolates_before(step.tb)) complete_step_record(tab, f, step, stats.nfe);
  saver.save_step(step.ta, step.tb, step.y1,
                  [&](double theta) { return interpolate(tab, step, theta, f, stats.nfe); });
  TensorTuple f1 = step.f1;
  if (dense) dense->add(std::move(step));
  return f1;
}

TupleSolution integrate_fixed(const Tableau& tab, const TupleField& f, const TensorTuple& y0,
                              double t0, double t1, const IntegrateOptions& o, Saver saver) {
  const double span = t1 - t0;
  long n = o.n_steps;
  if (n == 0) {
    // The fewest dt0-sized steps that cover the span; a ratio a rounding error above an
    // integer does not add a sliver step.
    n = static_cast<long>(std::ceil(std::abs(span) / o.dt0 * (1 - 1e-12)));
    if (n < 1) n = 1;
  }
  const double h = o.n_steps > 0 ? span / static_cast<double>(n) : (span >= 0 ? o.dt0 : -o.dt0);
  Stats stats;
  double t = t0;
  TensorTuple y = y0, k1;
  std::vector<double> step_ts{t0};
  const auto dense = o.dense ? std::make_shared<DenseOutput>(tab, f, t0, t1) : nullptr;
  for (long i = 0; i < n; ++i) {
    // Times from t0 by multiplication, not accumulation; the last step lands on t1 exactly.
    const double t_new = i + 1 == n ? t1 : t0 + static_cast<double>(i + 1) * h;
    if (k1.empty()) {
      k1 = f(t, y);
      ++stats.nfe;
      if (i == 0) check_derivative(k1, y0);
    }
    RKStep s = rk_step(tab, f, t, y, k1, t_new - t, stats.nfe);
    if (!all_finite(s.y1))
      fail(tab, "non-finite state or derivative in the step to t = " + std::to_string(t_new), t, i,
           y, stats);
    ++stats.accepted;
    k1 = accept_step(tab, f, {t, t_new, y, s.y1, k1, s.f1, std::move(s.k)}, saver, dense.get(),
                     stats);
    t = t_new;
    y = s.y1;
    step_ts.push_back(t);
  }
  return std::move(saver).finish(stats, std::move(step_ts), dense);
}

TupleSolution integrate_adaptive(const Tableau& tab, const TupleField& f, const TensorTuple& y0,
                                 double t0, double t1, const IntegrateOptions& o, Saver saver) {
  const double dir = t1 >= t0 ? 1.0 : -1.0, span = std::abs(t1 - t0);
  Stats stats;
  TensorTuple k1 = f(t0, y0);
  ++stats.nfe;
  check_derivative(k1, y0);
  if (!all_finite(k1) || !all_finite(y0))
    fail(tab, "non-finite initial state or derivative", t0, 0, y0, stats);
  double h = dir * (o.dt0 > 0 ? std::min(o.dt0, span)
                              : initial_step(f, t0, y0, k1, tab.order, dir, span, o, stats.nfe));
  PIDController pid(o, tab.controlled_order());
  double t = t0;
  TensorTuple y = y0;
  long step = 0;
  int nonfinite_in_a_row = 0;
  long last_nonfinite_step = -1000;
  std::vector<double> step_ts{t0};
  const auto dense = o.dense ? std::make_shared<DenseOutput>(tab, f, t0, t1) : nullptr;
  const auto decide = [&](double err, double h_tried) {
    if (!o.controller) return pid.decide(err);
    StepDecision d = o.controller(err, h_tried);
    if (!std::isfinite(d.factor) || !(d.factor > 0))
      fail(tab, "the controller returned the step factor " + std::to_string(d.factor), t, step, y,
           stats);
    d.factor = std::clamp(d.factor, o.factor_min, o.factor_max);
    if (!d.accept && d.factor >= 1)  // the same step again, and again, until max_steps
      fail(tab,
           "the controller rejected a step without shrinking it (factor " +
               std::to_string(d.factor) + ")",
           t, step, y, stats);
    return d;
  };
  while ((t1 - t) * dir > 0) {
    if (step >= o.max_steps)
      fail(tab, "max_steps = " + std::to_string(o.max_steps) + " reached", t, step, y, stats);
    // Stretch a step that would leave a sliver before t1 (Hairer's 1.01), and land exactly.
    const bool last = (t + 1.01 * h - t1) * dir >= 0;
    if (last) h = t1 - t;
    // The step that lands on t1 may be as short as what is left.
    const double h_min = min_step(t, span, o.dt_min);
    if (!last && std::abs(h) < h_min) {
      std::ostringstream what;
      if (step - last_nonfinite_step <= 20)
        what << "non-finite state or derivative in the trial steps beyond this point (the step "
                "size underflowed avoiding them: |dt| = "
             << std::abs(h) << " < dt_min = " << h_min << ")";
      else
        what << "step size underflow (|dt| = " << std::abs(h) << " < dt_min = " << h_min
             << "; the problem may be stiff or its solution blow up)";
      fail(tab, what.str(), t, step, y, stats);
    }
    if (k1.empty()) {
      k1 = f(t, y);
      ++stats.nfe;
    }
    RKStep s = rk_step(tab, f, t, y, k1, h, stats.nfe);
    ++step;
    const double err = step_error(tab, s.k, h, y, s.y1, o.rtol, o.atol, o.norm);
    if (!std::isfinite(err)) {
      // Non-finite at the accepted state itself is an error of f; in the trial stages it may
      // be an overflow of too large a step, so shrink, but not forever.
      if (!all_finite(k1)) fail(tab, "non-finite derivative f(t, y)", t, step, y, stats);
      if (++nonfinite_in_a_row >= 10)
        fail(tab, "non-finite state or derivative in 10 successive trial steps", t, step, y, stats);
      ++stats.rejected;
      last_nonfinite_step = step;
      pid.note_rejection();
      h *= o.factor_min;
      continue;
    }
    nonfinite_in_a_row = 0;
    const StepDecision d = decide(err, h);
    if (!d.accept) {
      ++stats.rejected;
      h *= d.factor;
      continue;
    }
    ++stats.accepted;
    const double t_new = last ? t1 : t + h;
    // FSAL's last stage, or the end derivative computed for interpolating: the next first stage.
    k1 = accept_step(tab, f, {t, t_new, y, s.y1, k1, s.f1, std::move(s.k)}, saver, dense.get(),
                     stats);
    t = t_new;
    y = s.y1;
    h *= d.factor;
    step_ts.push_back(t);
  }
  return std::move(saver).finish(stats, std::move(step_ts), dense);
}

const DenseOutput& dense_of(const std::shared_ptr<const DenseOutput>& dense) {
  if (!dense)
    throw std::logic_error("Solution::evaluate: solve with IntegrateOptions::dense = true");
  return *dense;
}

}  // namespace

template <>
TensorTuple TupleSolution::evaluate(double t) const {
  return dense_of(dense).at(t);
}

template <>
Tensor Solution::evaluate(double t) const {
  return dense_of(dense).at(t).front();
}

TupleSolution integrate(const TupleField& f, const TensorTuple& y0, double t0, double t1,
                        const IntegrateOptions& opts) {
  return integrate(f, y0, t0, t1, tableau(opts.method), opts);
}

TupleSolution integrate(const TupleField& f, const TensorTuple& y0, double t0, double t1,
                        const Tableau& tab, const IntegrateOptions& opts) {
  // The built-in tableaus are checked by the tests; any other is checked here, every call.
  bool builtin = false;
  for (const Method m : kMethods) builtin = builtin || &tab == &tableau(m);
  if (!builtin) validate_tableau(tab);
  validate(f, y0, t0, t1, opts, tab);
  Saver saver(opts.save_at, t1, t1 >= t0 ? 1.0 : -1.0);
  saver.save_initial(t0, y0);
  if (t0 == t1) {
    std::shared_ptr<DenseOutput> dense;
    if (opts.dense) {
      dense = std::make_shared<DenseOutput>(tab, f, t0, t1);
      dense->add({t0, t1, y0, y0, {}, {}, {}});  // evaluate(t0) is y0
    }
    return std::move(saver).finish({}, {t0}, dense);
  }
  if (!tab.adaptive() || opts.n_steps > 0)
    return integrate_fixed(tab, f, y0, t0, t1, opts, std::move(saver));
  return integrate_adaptive(tab, f, y0, t0, t1, opts, std::move(saver));
}

Solution integrate(const VectorField& f, const Tensor& y0, double t0, double t1,
                   const IntegrateOptions& opts) {
  return integrate(f, y0, t0, t1, tableau(opts.method), opts);
}

// A one-tensor state is a tuple of one.
Solution integrate(const VectorField& f, const Tensor& y0, double t0, double t1, const Tableau& tab,
                   const IntegrateOptions& opts) {
  if (!f) bad_option("the vector field is empty");
  // f by value: a dopri8 solution's evaluate() calls it after this returns.
  const TupleField as_tuple = [f](double t, const TensorTuple& y) {
    return TensorTuple{f(t, y.front())};
  };
  TupleSolution s = integrate(as_tuple, TensorTuple{y0}, t0, t1, tab, opts);
  Solution out{std::move(s.ts), {}, s.stats, std::move(s.step_ts), std::move(s.dense)};
  out.ys.reserve(s.ys.size());
  for (TensorTuple& y : s.ys) out.ys.push_back(std::move(y.front()));
  return out;
}

}  // namespace flowtape::solvers
