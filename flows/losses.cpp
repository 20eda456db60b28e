// SPDX-License-Identifier: MIT
// The flow-matching losses; the formulas and the choices made are in losses.hpp.
#include "flowtape/flows/losses.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>

#include "flowtape/flows/closed_form.hpp"

namespace flowtape::flows {

Tensor per_sample_loss(const Tensor& v, const Tensor& u) {
  if (v.shape() != u.shape() || v.rank() != 2) {
    std::ostringstream m;
    m << "flow-matching loss: the model output and the target must both be [B, d], got "
      << v.shape() << " and " << u.shape();
    throw std::invalid_argument(m.str());
  }
  return sum(square(v - u), 1);
}

Tensor cfm_loss(const Tensor& v, const Tensor& u) {
  return mean(per_sample_loss(v, u));
}

Tensor grouped_entropic_loss(const Tensor& per_sample, const std::vector<int>& groups,
                             double lambda) {
  if (per_sample.rank() != 1 || per_sample.numel() == 0 ||
      groups.size() != static_cast<std::size_t>(per_sample.numel())) {
    std::ostringstream m;
    m << "grouped_entropic_loss: expects [B] losses and B group ids, got " << per_sample.shape()
      << " and " << groups.size();
    throw std::invalid_argument(m.str());
  }
  // The rows of each group present, in increasing id (-1 first): one pass, whatever the ids.
  std::map<int, std::vector<double>> members;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (groups[i] < -1)
      throw std::invalid_argument("grouped_entropic_loss: a group id must be >= -1");
    members[groups[i]].push_back(static_cast<double>(i));
  }
  const auto b = static_cast<double>(groups.size());
  Tensor total;
  const auto add = [&](const Tensor& term) { total = total.defined() ? total + term : term; };
  for (const auto& [g, rows] : members) {
    const Tensor index = from_vector(std::span<const double>(rows),
                                     Shape({static_cast<std::int64_t>(rows.size())}), DType::i64)
                             .to(per_sample.device());
    const Tensor l = index_select(per_sample, 0, index);
    const double share = static_cast<double>(rows.size()) / b;
    add((g < 0 ? mean(l) : entropic_loss(l, lambda)) * share);
  }
  return total;
}

Tensor per_point_entropic_loss(const Tensor& v, const Tensor& xt, const Tensor& t,
                               const Tensor& reference, double lambda) {
  if (v.rank() != 2 || v.shape() != xt.shape() || t.rank() != 2 || t.shape()[0] != v.shape()[0] ||
      t.shape()[1] != 1 || reference.rank() != 2 || reference.shape()[1] != v.shape()[1] ||
      reference.shape()[0] < 1) {
    std::ostringstream m;
    m << "per_point_entropic_loss: expects v and x_t [B, d], t [B, 1] and references [K, d], got "
      << v.shape() << ", " << xt.shape() << ", " << t.shape() << " and " << reference.shape();
    throw std::invalid_argument(m.str());
  }
  if (!std::isfinite(lambda))
    throw std::invalid_argument("per_point_entropic_loss: lambda must be finite");
  const std::int64_t k = reference.shape()[0];
  // ||v - U_k||^2 = ||v||^2 - 2 v.U_k + ||U_k||^2 with v.U_k = (v.x1_k - v.x) / sigma: every
  // op is [B, K] (one matmul), none [B, K, d]. The constant ||U_k||^2 = ||x1_k - x||^2 / sigma^2
  // is expanded the same way in f64: in f32 the expansion would cancel catastrophically near
  // t = 1, where ||x1_k - x|| ~ sigma for the row's own target.
  Tensor log_p, sigma, u_sq;  // [B, K] log posterior, [B, 1] 1 - t, [B, K] ||U_k||^2
  {
    NoGrad no_grad;
    const Tensor x = stop_gradient(xt), ref = stop_gradient(reference);
    log_p = empirical_log_weights(x, stop_gradient(t), ref);
    sigma = clamp(1.0 - stop_gradient(t), 1e-4, 1.0);
    const Tensor x64 = to_dtype(x, DType::f64), ref64 = to_dtype(ref, DType::f64);
    const Tensor dist_sq = sum(square(x64), 1, true) - 2.0 * matmul(x64, ref64, false, true) +
                           reshape(sum(square(ref64), 1), {1, k});
    u_sq = to_dtype(dist_sq / square(to_dtype(sigma, DType::f64)), v.dtype());
  }
  const Tensor v_dot_u =
      (matmul(v, stop_gradient(reference), false, true) - sum(v * stop_gradient(xt), 1, true)) /
      sigma;
  const Tensor l = sum(square(v), 1, /*keepdims=*/true) - 2.0 * v_dot_u + u_sq;  // [B, K]
  const Tensor p = exp(log_p);
  if (lambda == 0.0) return mean(sum(p * l, 1));
  const Tensor c = stop_gradient(sum(p * l, 1, /*keepdims=*/true));  // a constant shift
  // logsumexp(log p) is 0 up to rounding; subtracting it keeps that rounding (~1e-7 in f32)
  // from being divided by a small lambda (the first steps of a ramp).
  return mean(c + (logsumexp(log_p + lambda * (l - c), 1, /*keepdims=*/true) -
                   logsumexp(log_p, 1, /*keepdims=*/true)) /
                      lambda);
}

std::vector<int> time_bin_groups(const Tensor& t, int bins) {
  if (bins < 1) throw std::invalid_argument("time_bin_groups: bins must be >= 1");
  std::vector<int> groups;
  for (double ti : t.to_vector()) {
    if (!std::isfinite(ti)) throw std::invalid_argument("time_bin_groups: a time is not finite");
    // (Clamped as a double: a huge t would not fit an int.)
    groups.push_back(static_cast<int>(std::clamp(std::floor(ti * bins), 0.0, bins - 1.0)));
  }
  return groups;
}

std::vector<int> late_groups(const Tensor& t, double from) {
  std::vector<int> groups;
  for (double ti : t.to_vector()) groups.push_back(ti >= from ? 0 : -1);
  return groups;
}

Tensor entropic_loss(const Tensor& per_sample, double lambda) {
  if (per_sample.rank() != 1 || per_sample.numel() == 0) {
    std::ostringstream m;
    m << "entropic_loss: expects the per-sample losses as a non-empty [B] tensor, got "
      << per_sample.shape();
    throw std::invalid_argument(m.str());
  }
  if (!std::isfinite(lambda)) throw std::invalid_argument("entropic_loss: lambda must be finite");
  if (lambda == 0.0) return mean(per_sample);
  const std::vector<double> l = per_sample.to_vector();
  const auto [lo, hi] = std::minmax_element(l.begin(), l.end());
  const double spread = std::abs(lambda) * (*hi - *lo);
  const auto b = static_cast<double>(l.size());
  if (spread <= 1.0) {
    // No cancellation for small lambda: with c the batch mean (a constant shift, which does not
    // change the value or the gradient), every exp argument is within [-1, 1].
    double c = 0;
    for (double x : l) c += x;
    c /= b;
    const Tensor shift = scalar_like(per_sample, c);
    return shift + log1p(mean(expm1(lambda * (per_sample - shift)))) / lambda;
  }
  // Large spread: logsumexp shifts by the maximum of lambda * l, so exp never overflows.
  return (logsumexp(lambda * per_sample, 0) - std::log(b)) / lambda;
}

LambdaSchedule LambdaSchedule::constant(double lambda) {
  if (!std::isfinite(lambda)) throw std::invalid_argument("LambdaSchedule: lambda must be finite");
  return LambdaSchedule(lambda, 0, -1);
}

LambdaSchedule LambdaSchedule::linear_ramp(double lambda_max, std::int64_t start,
                                           std::int64_t end) {
  if (!std::isfinite(lambda_max) || start < 0 || end <= start) {
    std::ostringstream m;
    m << "LambdaSchedule::linear_ramp: need a finite lambda_max and 0 <= start < end, got "
      << lambda_max << ", " << start << ", " << end;
    throw std::invalid_argument(m.str());
  }
  return LambdaSchedule(lambda_max, start, end);
}

double LambdaSchedule::operator()(std::int64_t step) const {
  if (end_ < 0 || step >= end_) return lambda_max_;
  if (step <= start_) return 0.0;
  return lambda_max_ * static_cast<double>(step - start_) / static_cast<double>(end_ - start_);
}

std::string LambdaSchedule::describe() const {
  std::ostringstream m;
  if (end_ < 0) {
    m << "constant " << lambda_max_;
  } else {
    m << "linear ramp 0 -> " << lambda_max_ << " over steps " << start_ << ".." << end_;
  }
  return m.str();
}

namespace {

// The exact-trace residual from v and div v: sigma_t [div v + (sg[v] - u).s - d sigma'/sigma].
Tensor exact_residual(const PathSample& path, const Tensor& v, const Tensor& div, bool sg) {
  const auto d = static_cast<double>(path.xt.shape()[1]);
  return path.sigma * (div + sum(((sg ? stop_gradient(v) : v) - path.ut) * path.score, 1, true) -
                       d * path.sigma_rate);
}

// The per-coordinate residual from v and the Jacobian's column sums.
Tensor column_residual(const PathSample& path, const Tensor& v, const Tensor& column_sums,
                       bool sg) {
  return path.sigma *
         (column_sums + path.score * ((sg ? stop_gradient(v) : v) - path.ut) - path.sigma_rate);
}

}  // namespace

// The FDM functions take t as [B], [B, 1] or a scalar, as Path::sample does, and hand the
// field the [B, 1] column its interface promises (and the exact divergence requires).
FdmResidual fdm_residual(const VelocityField& field, const PathSample& path, const Tensor& t_in,
                         const std::vector<Tensor>& probes, bool stop_gradient_v) {
  const Tensor& x = path.xt;
  const Tensor t = as_time_column(t_in, x.shape()[0]);
  auto frozen = [&](const Tensor& v) { return stop_gradient_v ? stop_gradient(v) : v; };
  FdmResidual out;
  if (probes.empty()) {
    const FieldAndDivergence fd = divergence_exact(field, x, t);
    return {fd.v, exact_residual(path, fd.v, fd.div, stop_gradient_v)};
  }
  Tensor r;  // before the sigma_t weight
  const Function1 f = [&](const Tensor& y) { return field(y, t); };
  for (const Tensor& z : probes) {
    auto [v, jz] = jvp(f, x, z);
    if (!out.v.defined()) out.v = v;
    const Tensor zs = sum(z * path.score, 1, true);
    const Tensor rho = sum(z * jz, 1, true) + zs * sum(z * (frozen(v) - path.ut), 1, true) -
                       path.sigma_rate * sum(z * z, 1, true);
    r = r.defined() ? r + rho : rho;
  }
  if (probes.size() > 1) r = r / static_cast<double>(probes.size());
  out.residual = path.sigma * r;
  return out;
}

FdmColumnResidual fdm_column_residual(const VelocityField& field, const PathSample& path,
                                      const Tensor& t_in, bool stop_gradient_v) {
  const Tensor t = as_time_column(t_in, path.xt.shape()[0]);
  const FieldAndColumnSums cs = jacobian_column_sums(field, path.xt, t);
  return {cs.v, column_residual(path, cs.v, cs.column_sums, stop_gradient_v)};
}

FdmOptions fdm_official_options(std::int64_t dim, double reg) {
  if (dim < 1 || !(reg >= 0) || !std::isfinite(reg))
    throw std::invalid_argument("fdm_official_options: need dim >= 1 and a finite reg >= 0");
  const auto d = static_cast<double>(dim);
  FdmOptions o;
  o.w_cfm = 1.0 / d + reg * d;
  o.w_div = reg;
  o.w_colsum = reg;
  o.probes = 1;
  o.probe = ProbeKind::rademacher;
  o.stop_gradient_v = true;
  return o;
}

FdmLoss fdm_loss(const VelocityField& field, const PathSample& path, const Tensor& t_in,
                 Generator& gen, const FdmOptions& o) {
  const Tensor t = as_time_column(t_in, path.xt.shape()[0]);
  const auto weight_ok = [](double w) { return w >= 0 && std::isfinite(w); };
  if (o.probes < 1 || !weight_ok(o.w_cfm) || !weight_ok(o.w_div) || !weight_ok(o.w_colsum)) {
    std::ostringstream m;
    m << "fdm_loss: need probes >= 1 and finite non-negative weights, got probes = " << o.probes
      << ", w_cfm = " << o.w_cfm << ", w_div = " << o.w_div << ", w_colsum = " << o.w_colsum;
    throw std::invalid_argument(m.str());
  }
  const std::vector<Tensor> probes =
      o.exact_divergence
          ? std::vector<Tensor>{}
          : make_probes(o.probe, o.probes, path.xt.shape(), gen, path.xt.dtype(), path.xt.device());
  FdmLoss out;
  Tensor colsum_residual;
  if (o.exact_divergence && o.w_colsum > 0) {
    // Both terms from one set of d basis JVPs (the same values as computing them apart).
    const FieldTraceAndColumnSums j = jacobian_trace_and_column_sums(field, path.xt, t);
    out.v = j.v;
    out.cdm = mean(square(exact_residual(path, j.v, j.div, o.stop_gradient_v)));
    colsum_residual = column_residual(path, j.v, j.column_sums, o.stop_gradient_v);
  } else {
    const FdmResidual r = fdm_residual(field, path, t, probes, o.stop_gradient_v);
    out.v = r.v;
    out.cdm = mean(square(r.residual));
    if (o.w_colsum > 0)
      colsum_residual = fdm_column_residual(field, path, t, o.stop_gradient_v).residual;
  }
  out.cfm = cfm_loss(out.v, path.ut);
  out.total = o.w_cfm * out.cfm + o.w_div * out.cdm;
  if (o.w_colsum > 0) {
    out.colsum = mean(square(colsum_residual));
    out.total = out.total + o.w_colsum * out.colsum;
  }
  return out;
}

Tensor efm_target(const Tensor& xt, const Tensor& t, const Tensor& x1, const Tensor& extra,
                  double sigma_min) {
  NoGrad no_grad;
  const Tensor reference = extra.defined() && extra.numel() > 0 ? concat({x1, extra}, 0) : x1;
  return stop_gradient(
      empirical_velocity(stop_gradient(xt), stop_gradient(t), reference, sigma_min));
}

Tensor efm_target_by_class(const Tensor& xt, const Tensor& t, const Tensor& x1, const Tensor& extra,
                           const Tensor& reference_labels, const Tensor& row_labels,
                           double sigma_min) {
  NoGrad no_grad;
  const Tensor reference = extra.defined() && extra.numel() > 0 ? concat({x1, extra}, 0) : x1;
  const std::vector<double> ref = reference_labels.to_vector(), rows = row_labels.to_vector();
  if (static_cast<std::int64_t>(ref.size()) != reference.shape()[0] ||
      static_cast<std::int64_t>(rows.size()) != xt.shape()[0])
    throw std::invalid_argument("efm_target_by_class: one label per reference point and per row");
  const Device device = xt.device();
  const auto index = [&](const std::vector<double>& v) {
    return from_vector(v, Shape{static_cast<std::int64_t>(v.size())}, DType::i64).to(device);
  };
  std::map<double, std::vector<double>> groups;  // label -> its rows
  for (std::size_t i = 0; i < rows.size(); ++i) groups[rows[i]].push_back(double(i));
  std::vector<Tensor> parts;
  std::vector<double> order;  // the rows in the order of parts
  for (const auto& [label, members] : groups) {
    std::vector<double> refs;
    for (std::size_t j = 0; j < ref.size(); ++j)
      if (label < 0 || ref[j] == label) refs.push_back(double(j));
    if (refs.empty())
      throw std::invalid_argument("efm_target_by_class: no reference point of class " +
                                  std::to_string(static_cast<long long>(label)));
    const Tensor idx = index(members);
    parts.push_back(empirical_velocity(index_select(stop_gradient(xt), 0, idx),
                                       index_select(stop_gradient(t), 0, idx),
                                       index_select(reference, 0, index(refs)), sigma_min));
    order.insert(order.end(), members.begin(), members.end());
  }
  // Back to the rows' order: position order[k] holds part row k.
  std::vector<double> inverse(order.size());
  for (std::size_t k = 0; k < order.size(); ++k)
    inverse[static_cast<std::size_t>(order[k])] = double(k);
  return stop_gradient(index_select(concat(parts, 0), 0, index(inverse)));
}

}  // namespace flowtape::flows
