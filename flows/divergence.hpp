// SPDX-License-Identifier: MIT
// The divergence div_x v(x, t) = tr(d v / d x) of a velocity field, per sample, by forward-mode
// JVPs: exactly with d JVPs (one per basis vector; right for low d), or by Hutchinson's
// estimator E_z[z^T J z] with a few Gaussian or Rademacher probes. Inside a recording Tape the
// JVPs are recorded, so a loss built on the divergence can be differentiated
// (reverse-over-forward), which the divergence-matching loss needs.
#pragma once

#include <string_view>
#include <vector>

#include "flowtape/flows/velocity.hpp"

namespace flowtape::flows {

enum class ProbeKind { gaussian, rademacher };
ProbeKind probe_from_name(std::string_view name);  // "gaussian", "rademacher"

// k probes of x's shape: N(0, I) or independent +-1 entries.
std::vector<Tensor> make_probes(ProbeKind kind, int k, const Shape& shape, Generator& gen,
                                DType dtype, Device device = Device::cpu);

struct FieldAndDivergence {
  Tensor v;    // [B, d] the field at x
  Tensor div;  // [B, 1] its divergence (exact or estimated)
};

// x: [B, d], t: [B, 1]. Exact: d JVPs with the basis vectors e_j, div = sum_j (J e_j)_j.
FieldAndDivergence divergence_exact(const VelocityField& field, const Tensor& x, const Tensor& t);
// The column sums of the Jacobian, (J^T 1)_j = sum_i dv_i/dx_j, per sample ([B, d]), from the
// same d basis JVPs as divergence_exact (forward mode, so a loss on them can be
// differentiated); the official FDM code's extra term uses them.
struct FieldAndColumnSums {
  Tensor v;            // [B, d] the field at x
  Tensor column_sums;  // [B, d]
};
FieldAndColumnSums jacobian_column_sums(const VelocityField& field, const Tensor& x,
                                        const Tensor& t);
// Both from the same d basis JVPs: what the official FDM loss with the exact trace needs.
struct FieldTraceAndColumnSums {
  Tensor v, div, column_sums;  // [B, d], [B, 1], [B, d]
};
FieldTraceAndColumnSums jacobian_trace_and_column_sums(const VelocityField& field, const Tensor& x,
                                                       const Tensor& t);
// Hutchinson: the mean over the probes of z^T J z; unbiased when E[z z^T] = I.
FieldAndDivergence divergence_hutchinson(const VelocityField& field, const Tensor& x,
                                         const Tensor& t, const std::vector<Tensor>& probes);

}  // namespace flowtape::flows
