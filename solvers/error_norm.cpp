// SPDX-License-Identifier: MIT
// Scaled error norms, computed with Tensor ops (so they run wherever the state lives) and read
// back with item().
#include "flowtape/solvers/error_norm.hpp"

#include <algorithm>
#include <cmath>

#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"
#include "flowtape/autodiff/verbs.hpp"

namespace flowtape::solvers {
namespace {

double component_norm(const Tensor& v, const Tensor& y0, const Tensor& y1, double rtol, double atol,
                      ErrorNorm norm) {
  Tensor mag = abs(stop_gradient(y0));
  if (y1.defined()) {
    // A NaN or an infinity in the trial state must fail the step, not pass it with a scale that
    // hides it (an infinite scale made the error 0): maximum carries a NaN, and mag1 - mag1,
    // which is 0 for finite values, turns an infinity into one.
    const Tensor mag1 = abs(stop_gradient(y1));
    mag = maximum(mag, mag1) + (mag1 - mag1);
  }
  const Tensor e = square(stop_gradient(v) / (mag * rtol + atol));
  if (norm == ErrorNorm::rms || e.rank() == 0) return std::sqrt(mean(e).item());
  // Per sample: mean over everything but axis 0, then the worst sample.
  const Tensor per_sample = mean(reshape(e, {e.size(0), -1}), 1);
  return std::sqrt(max(per_sample, 0).item());
}

}  // namespace

TensorTuple local_error(const Tableau& tab, const std::vector<TensorTuple>& k, double h, bool low) {
  NoGrad no_grad;
  TensorTuple e(k[0].size());
  for (std::size_t c = 0; c < e.size(); ++c) {
    for (int i = 0; i < tab.stages; ++i) {
      const double w = h * (low ? tab.b_err_low(i) : tab.b_err(i));
      if (w == 0.0) continue;
      const Tensor term = stop_gradient(k[static_cast<std::size_t>(i)][c]) * w;
      e[c] = e[c].defined() ? e[c] + term : term;
    }
    if (!e[c].defined()) e[c] = zeros_like(k[0][c]);
  }
  return e;
}

double scaled_norm(const TensorTuple& v, const TensorTuple& y0, const TensorTuple& y1, double rtol,
                   double atol, ErrorNorm norm) {
  NoGrad no_grad;
  double worst = 0;
  for (std::size_t c = 0; c < v.size(); ++c) {
    const double n = component_norm(v[c], y0[c], y1.empty() ? Tensor() : y1[c], rtol, atol, norm);
    // A NaN must not be lost by max (nor overwritten by a later component): it signals a
    // failed step.
    if (std::isnan(n)) return n;
    if (n > worst) worst = n;
  }
  return worst;
}

double step_error(const Tableau& tab, const std::vector<TensorTuple>& k, double h,
                  const TensorTuple& y0, const TensorTuple& y1, double rtol, double atol,
                  ErrorNorm norm) {
  const double err = scaled_norm(local_error(tab, k, h), y0, y1, rtol, atol, norm);
  if (tab.error_order_low == 0) return err;
  const double err_low = scaled_norm(local_error(tab, k, h, true), y0, y1, rtol, atol, norm);
  // A non-finite estimate is the caller's signal of a failed trial step: pass it on.
  if (!std::isfinite(err) || !std::isfinite(err_low)) return err + err_low;
  // The low-order estimate tempers the high one where the latter is accidentally small.
  const double denominator = std::sqrt(err * err + 0.01 * err_low * err_low);
  return denominator > 0 ? err * err / denominator : 0.0;
}

bool all_finite(const Tensor& x) {
  NoGrad no_grad;
  // The largest magnitude: an inf, or a NaN (which max carries), makes it non-finite, and
  // finite values never do (a sum of them could overflow).
  return std::isfinite(max(reshape(abs(stop_gradient(x)), {-1}), 0).item());
}

bool all_finite(const TensorTuple& xs) {
  return std::all_of(xs.begin(), xs.end(), [](const Tensor& x) { return all_finite(x); });
}

}  // namespace flowtape::solvers
