// SPDX-License-Identifier: MIT
// The scaled error norm the step-size controller reads: e = v / (atol + rtol * max(|y0|, |y1|))
// reduced to one number by RMS over each component of the state, or per sample (axis 0 is the
// batch; the worst sample's RMS), so that one badly resolved sample in a batch cannot hide
// behind the others; a tuple state takes its worst component. Values only: everything here
// runs unrecorded on stop_gradient'd inputs.
#pragma once

#include <vector>

#include "flowtape/runtime/tensor.hpp"
#include "flowtape/solvers/options.hpp"
#include "flowtape/solvers/tableau.hpp"

namespace flowtape::solvers {

// The local error estimate h sum_i b_err(i) k_i of an embedded pair (unrecorded); with `low`,
// the second estimate's h sum_i b_err_low(i) k_i.
TensorTuple local_error(const Tableau& tab, const std::vector<TensorTuple>& k, double h,
                        bool low = false);

// || v / (atol + rtol * max(|y0|, |y1|)) || in the chosen norm, the largest over the
// components; y1 may be empty (then only |y0| scales).
double scaled_norm(const TensorTuple& v, const TensorTuple& y0, const TensorTuple& y1, double rtol,
                   double atol, ErrorNorm norm);

// The scaled error of a trial step the controller reads: the embedded estimate's norm, or for a
// tableau with a second estimate Hairer's err^2 / sqrt(err^2 + 0.01 err_low^2).
double step_error(const Tableau& tab, const std::vector<TensorTuple>& k, double h,
                  const TensorTuple& y0, const TensorTuple& y1, double rtol, double atol,
                  ErrorNorm norm);

// Whether every element of x (of every component of xs) is finite (unrecorded).
bool all_finite(const Tensor& x);
bool all_finite(const TensorTuple& xs);

}  // namespace flowtape::solvers
