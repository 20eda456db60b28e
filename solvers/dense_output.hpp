// SPDX-License-Identifier: MIT
// Dense output: the state anywhere inside an accepted step without stepping there, by the
// method's own interpolant when its tableau has one (dopri5, tsit5, dop853), by a fresh step
// of the method itself when it has none of its order (dopri8), else by the cubic Hermite
// polynomial through y and f at both ends (third order; fixed-step methods and tableaus of
// your own without an interpolant).
#pragma once

#include <vector>

#include "flowtape/runtime/tensor.hpp"
#include "flowtape/solvers/options.hpp"
#include "flowtape/solvers/tableau.hpp"

namespace flowtape::solvers {

// One accepted step from (ta, y0) to (tb, y1) with everything its interpolant may need.
struct StepRecord {
  double ta = 0, tb = 0;
  TensorTuple y0, y1;
  TensorTuple f0, f1;          // f at both ends; f1 may be empty until complete_step_record
  std::vector<TensorTuple> k;  // the stages, then the tableau's dense stages once completed
};

// Evaluates what interpolating the step needs and it lacks: f(tb, y1) for Hermite and for
// tableaus with dense stages, and those stages. Adds the evaluations to nfe.
void complete_step_record(const Tableau& tab, const TupleField& f, StepRecord& step, long& nfe);

// y(ta + theta (tb - ta)), theta in [0, 1], on a completed step. f and nfe serve the methods
// interpolated by a fresh step.
TensorTuple interpolate(const Tableau& tab, const StepRecord& step, double theta,
                        const TupleField& f, long& nfe);

// Every accepted step of a solve: the continuous solution behind Solution::evaluate.
class DenseOutput {
 public:
  DenseOutput(const Tableau& tab, const TupleField& f, double t0, double t1);
  // A completed step, contiguous with the last one in the direction of integration.
  void add(StepRecord step);
  TensorTuple at(double t) const;

 private:
  Tableau tab_;   // a copy: a user's tableau may not outlive the solution
  TupleField f_;  // only for methods interpolated by a fresh step
  double t0_, t1_;
  std::vector<StepRecord> steps_;
};

}  // namespace flowtape::solvers
