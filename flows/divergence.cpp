// SPDX-License-Identifier: MIT
// Divergence by forward-mode JVPs; see divergence.hpp.
#include "flowtape/flows/divergence.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

namespace flowtape::flows {

ProbeKind probe_from_name(std::string_view name) {
  if (name == "gaussian") return ProbeKind::gaussian;
  if (name == "rademacher") return ProbeKind::rademacher;
  throw std::invalid_argument("unknown probe '" + std::string(name) +
                              "'; expected gaussian or rademacher");
}

std::vector<Tensor> make_probes(ProbeKind kind, int k, const Shape& shape, Generator& gen,
                                DType dtype, Device device) {
  if (k < 1)
    throw std::invalid_argument("make_probes: need at least one probe, got " + std::to_string(k));
  std::vector<Tensor> probes;
  probes.reserve(k);
  NoGrad no_grad;
  for (int i = 0; i < k; ++i) {
    if (kind == ProbeKind::gaussian) {
      probes.push_back(randn(shape, gen, dtype, device));
    } else {
      // +1 where u > 1/2, else -1, in two elementwise passes: u - 1/2 is exact, and moving it
      // down by 2^-60 (below the spacing of every u a Generator draws: 2^-24 in f32, 2^-53 in
      // f64) makes u = 1/2 negative, so the sign is never 0 and always greater(u, 1/2)'s.
      const Tensor u = rand(shape, gen, dtype, device);
      probes.push_back(sign(u - 0.5 - std::ldexp(1.0, -60)));
    }
  }
  return probes;
}

namespace {
void check_inputs(const char* who, const Tensor& x, const Tensor& t) {
  if (x.rank() != 2 || t.rank() != 2 || t.shape()[0] != x.shape()[0] || t.shape()[1] != 1) {
    std::ostringstream m;
    m << who << ": x must be [B, d] and t [B, 1], got " << x.shape() << " and " << t.shape();
    throw std::invalid_argument(m.str());
  }
}
}  // namespace

namespace {
// Calls visit(j, v, J e_j) for every basis vector e_j (one JVP each), v the field at x.
template <class Visit>
void for_each_basis_jvp(const VelocityField& field, const Tensor& x, const Tensor& t,
                        Visit&& visit) {
  const std::int64_t b = x.shape()[0], d = x.shape()[1];
  const Function1 f = [&](const Tensor& y) { return field(y, t); };
  for (std::int64_t j = 0; j < d; ++j) {
    // e_j for every row: a [1, d] one-hot broadcast to [B, d].
    std::vector<double> e(static_cast<std::size_t>(d), 0.0);
    e[static_cast<std::size_t>(j)] = 1.0;
    const Tensor basis =
        broadcast_to(from_vector(e, Shape{1, d}, x.dtype()).to(x.device()), Shape{b, d});
    auto [v, jv] = jvp(f, x, basis);
    visit(j, v, jv);
  }
}
}  // namespace

FieldAndDivergence divergence_exact(const VelocityField& field, const Tensor& x, const Tensor& t) {
  check_inputs("divergence_exact", x, t);
  FieldAndDivergence out;
  for_each_basis_jvp(field, x, t, [&](std::int64_t j, const Tensor& v, const Tensor& jv) {
    const Tensor term = slice(jv, 1, j, j + 1);  // (J e_j)_j
    out.div = out.div.defined() ? out.div + term : term;
    if (!out.v.defined()) out.v = v;
  });
  return out;
}

FieldAndColumnSums jacobian_column_sums(const VelocityField& field, const Tensor& x,
                                        const Tensor& t) {
  check_inputs("jacobian_column_sums", x, t);
  FieldAndColumnSums out;
  std::vector<Tensor> columns;
  for_each_basis_jvp(field, x, t, [&](std::int64_t, const Tensor& v, const Tensor& jv) {
    columns.push_back(sum(jv, 1, /*keepdims=*/true));  // 1^T J e_j
    if (!out.v.defined()) out.v = v;
  });
  out.column_sums = concat(columns, 1);
  return out;
}

FieldTraceAndColumnSums jacobian_trace_and_column_sums(const VelocityField& field, const Tensor& x,
                                                       const Tensor& t) {
  check_inputs("jacobian_trace_and_column_sums", x, t);
  FieldTraceAndColumnSums out;
  std::vector<Tensor> columns;
  for_each_basis_jvp(field, x, t, [&](std::int64_t j, const Tensor& v, const Tensor& jv) {
    const Tensor term = slice(jv, 1, j, j + 1);  // as divergence_exact adds them
    out.div = out.div.defined() ? out.div + term : term;
    columns.push_back(sum(jv, 1, /*keepdims=*/true));  // as jacobian_column_sums does
    if (!out.v.defined()) out.v = v;
  });
  out.column_sums = concat(columns, 1);
  return out;
}

FieldAndDivergence divergence_hutchinson(const VelocityField& field, const Tensor& x,
                                         const Tensor& t, const std::vector<Tensor>& probes) {
  check_inputs("divergence_hutchinson", x, t);
  if (probes.empty()) throw std::invalid_argument("divergence_hutchinson: no probes given");
  const Function1 f = [&](const Tensor& y) { return field(y, t); };
  FieldAndDivergence out;
  for (const Tensor& z : probes) {
    auto [v, jz] = jvp(f, x, z);
    const Tensor term = sum(z * jz, 1, /*keepdims=*/true);
    out.div = out.div.defined() ? out.div + term : term;
    if (!out.v.defined()) out.v = v;
  }
  if (probes.size() > 1) out.div = out.div / static_cast<double>(probes.size());
  return out;
}

}  // namespace flowtape::flows
