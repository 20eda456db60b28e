// SPDX-License-Identifier: MIT
// The flow-matching objectives, each a function of model outputs and targets so it fits any
// training loop (the example programs and the CLI use them as they are).
//
//   per_sample_loss  l_i = ||v_i - u_i||^2, summed over coordinates (docs/objectives.md reads the
//                    entropic paper's l_i as a sum; a per-coordinate mean only rescales
//                    lambda by d).
//   cfm_loss         mean_i l_i: the conditional flow-matching regression.
//   entropic_loss    (1/lambda) log((1/B) sum_i exp(lambda l_i)), the risk-entropic (tilted)
//                    aggregation of the batch (docs/objectives.md). Its gradient is
//                    sum_i softmax(lambda l)_i grad l_i. Exactly the mean at lambda = 0 and
//                    smooth through it: for small lambda spreads it is evaluated as
//                    mean(l) + log1p(mean(expm1(lambda (l - mean l)))) / lambda, which has no
//                    cancellation; for large spreads as a max-shifted log-sum-exp, which
//                    cannot overflow (l_i ~ 1e4 with lambda = 1 is fine).
//   fdm_loss         flow and divergence matching (Huang et al., docs/objectives.md): w_cfm L_CFM +
//                    w_div L_CDM, with the conditional continuity residual
//                    rho = sigma_t [ z^T J z + (z.s)(z.sg[v]) - (z.s)(z.u) - (sigma'/sigma)|z|^2 ]
//                    from Hutchinson probes z through jvp, or its exact-trace form
//                    sigma_t [ div v + (sg[v] - u).s - d sigma'/sigma ]. The stop-gradient on v
//                    in the score product is the official code's default (freeze=True); the
//                    Jacobian term keeps its gradient. With k > 1 probes the residual is
//                    averaged over the probes before squaring (k = 1 is the paper's code).
//                    The official 2-D code adds a per-coordinate term (w_colsum, off by
//                    default): e_j = sigma_t [ (J^T 1)_j + s_j (sg[v_j] - u_j) - sigma'/sigma ],
//                    L_colsum = mean over samples and coordinates of e_j^2, from d JVPs;
//                    fdm_official_options gives that code's weighting.
//   per_point_entropic_loss  the exact per-point tilt over a reference set (below).
//   efm_target       the empirical flow-matching target (Bertrand et al. Eq. 8): the closed-form
//                    velocity over a reference set made of the batch's own targets plus extra
//                    data points; with the generating x1 in the set the estimate is unbiased.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flowtape/flows/divergence.hpp"
#include "flowtape/flows/path.hpp"
#include "flowtape/flows/velocity.hpp"

namespace flowtape::flows {

Tensor per_sample_loss(const Tensor& v, const Tensor& u);  // [B]
Tensor cfm_loss(const Tensor& v, const Tensor& u);         // scalar
Tensor entropic_loss(const Tensor& per_sample, double lambda);
// The entropic aggregation within groups of the batch (variants of the tilt that keep it from
// comparing residuals across times): groups[i] >= 0 is row i's group, tilted among its own
// group; -1 leaves the row untilted. Each term is weighted by its share of the batch:
//   sum_g (n_g / B) entropic_loss(l[g], lambda) + (n_untilted / B) mean(l[untilted]).
// One group holding every row is entropic_loss; no tilted row is the mean.
Tensor grouped_entropic_loss(const Tensor& per_sample, const std::vector<int>& groups,
                             double lambda);
// The exact per-point tilt (the paper's conditional objective at each (x, t)) over a finite
// reference set {x1_k} for the rectified path: given x_t = x the posterior of the target is
// p_k = softmax_k(-||x - t x1_k||^2 / (2 (1 - t)^2)) and the conditional velocity is
// U_k = (x1_k - x) / (1 - t), so
//   J(x, t) = (1/lambda) log sum_k p_k exp(lambda ||v(x, t) - U_k||^2),
// and the loss is the batch mean of J at the rows' (x_t, t). At lambda = 0 it is
// sum_k p_k ||v - U_k||^2, whose gradient is EFM's (efm_target); its minimiser for lambda > 0
// is the Gibbs-tilted mean of the U_k (for lambda < 0, J is a soft minimum of quadratics and
// that mean is only a stationary point). The reference set must hold the rows' own targets (as
// efm_target's does). Evaluated per row as c + logsumexp(log p + lambda (l - c)) / lambda with
// c the p-weighted mean of l and log p from the posterior's logits (a weight that underflows
// still counts once tilted), so nothing overflows; 1 - t is floored at 1e-4 like the closed
// form's. For lambda >= 1/2 the tilt beats the likelihood at every t and far references
// dominate: the trainer refuses it. Memory: B x K.
Tensor per_point_entropic_loss(const Tensor& v, const Tensor& xt, const Tensor& t,
                               const Tensor& reference, double lambda);
// Groups by time: row i's bin floor(t_i * bins) (t in [0, 1]; t = 1 joins the last bin).
std::vector<int> time_bin_groups(const Tensor& t, int bins);
// One tilted group of the rows with t >= from; the others untilted.
std::vector<int> late_groups(const Tensor& t, double from);

// The lambda schedule of the entropic loss (docs/objectives.md): constant, or a linear ramp from 0
// at step `start` to lambda_max at step `end`, held afterwards.
class LambdaSchedule {
 public:
  static LambdaSchedule constant(double lambda);
  static LambdaSchedule linear_ramp(double lambda_max, std::int64_t start, std::int64_t end);
  double operator()(std::int64_t step) const;
  std::string describe() const;

 private:
  LambdaSchedule(double lambda_max, std::int64_t start, std::int64_t end)
      : lambda_max_(lambda_max), start_(start), end_(end) {}
  double lambda_max_;
  std::int64_t start_, end_;  // end_ < 0: constant
};

struct FdmOptions {
  double w_cfm = 1.0;
  double w_div = 0.1;  // the official 2-D code's reg = 0.1
  bool exact_divergence = false;
  int probes = 1;
  ProbeKind probe = ProbeKind::rademacher;  // the official 2-D code's probe
  bool stop_gradient_v = true;              // sg[v] in the score product (freeze=True)
  double w_colsum = 0.0;  // the official code's column-sum term (0: off, as in the paper)
};

// The official 2-D code's loss, MSE + reg (L_colsum + L_der + d^2 MSE) with MSE the mean of
// (v - u)^2 over samples and coordinates, in this library's units (cfm_loss sums coordinates,
// so MSE = cfm / d): w_cfm = 1/d + reg d, w_div = w_colsum = reg; one Rademacher probe, sg[v].
// With d = 2 and reg = 0.1: 0.7 cfm + 0.1 cdm + 0.1 colsum.
FdmOptions fdm_official_options(std::int64_t dim, double reg = 0.1);

struct FdmLoss {
  Tensor total, cfm, cdm;  // scalars; total = w_cfm cfm + w_div cdm (+ w_colsum colsum)
  Tensor colsum;           // scalar, the column-sum term; undefined when w_colsum = 0
  Tensor v;                // [B, d] the model output at the path sample (for metrics)
};

// The sigma_t-weighted conditional continuity residual per sample ([B, 1]) and the model
// output at the path sample; `probes` empty means the exact trace (d JVPs), otherwise the
// residual is averaged over the given Hutchinson probes (each x's shape).
struct FdmResidual {
  Tensor v, residual;
};
FdmResidual fdm_residual(const VelocityField& field, const PathSample& path, const Tensor& t,
                         const std::vector<Tensor>& probes, bool stop_gradient_v = true);

// The official code's per-coordinate residual e ([B, d]) and the field at the path sample.
struct FdmColumnResidual {
  Tensor v, residual;
};
FdmColumnResidual fdm_column_residual(const VelocityField& field, const PathSample& path,
                                      const Tensor& t, bool stop_gradient_v = true);

// path: the sample (xt, ut, sigma, sigma_rate, score) at times t [B, 1].
FdmLoss fdm_loss(const VelocityField& field, const PathSample& path, const Tensor& t,
                 Generator& gen, const FdmOptions& options = {});

// The empirical FM target at (xt, t): the closed-form velocity over the reference set
// concat(x1, extra) (extra may be empty), with the rectified path (sigma_min = 0) or Lipman's.
// Returned as a constant (no gradient), like any regression target.
Tensor efm_target(const Tensor& xt, const Tensor& t, const Tensor& x1, const Tensor& extra,
                  double sigma_min = 0.0);
// The class-conditional EFM target: row i's closed-form velocity over the reference points of
// its own class, row_labels[i], among concat(x1, extra) labelled reference_labels (i64); a row
// whose label is -1 (no condition) gets the closed form over every reference point, the
// unconditional target. Each row's own x1 must be among the references (it is: x1 is).
Tensor efm_target_by_class(const Tensor& xt, const Tensor& t, const Tensor& x1, const Tensor& extra,
                           const Tensor& reference_labels, const Tensor& row_labels,
                           double sigma_min = 0.0);

}  // namespace flowtape::flows
