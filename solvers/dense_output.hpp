// SPDX-License-Identifier: MIT
// Dense output: the state anywhere inside an accepted step without stepping there. Methods
// whose tableau carries an interpolant (dopri5) use it; the others use the cubic Hermite
// polynomial through y and f at both ends (third order, which needs f(t1, y1): for FSAL
// methods that is the last stage; for the others it is the next step's first stage, so it
// costs no extra evaluation except after the final step).
#pragma once

#include <vector>

#include "flowtape/runtime/tensor.hpp"
#include "flowtape/solvers/tableau.hpp"

namespace flowtape::solvers {

// Whether interpolating on this tableau needs f(t + h, y1).
bool needs_end_derivative(const Tableau& tab);

// y(t + theta h), theta in [0, 1], on the step (y0, f0) -> (y1, f1) of size h with stages k.
Tensor interpolate(const Tableau& tab, const Tensor& y0, const Tensor& y1, const Tensor& f0,
                   const Tensor& f1, const std::vector<Tensor>& k, double h, double theta);

// Every accepted step of a solve with what its interpolant needs: the continuous solution
// behind Solution::evaluate.
class DenseOutput {
 public:
  DenseOutput(const Tableau& tab, double t0, double t1);
  // The step from ta to tb (in the direction of integration, contiguous with the last one).
  void add(double ta, double tb, Tensor y0, Tensor y1, Tensor f0, std::vector<Tensor> k);
  // f(tb, y1) of the last step added, once known (the next step's first stage).
  void set_end_derivative(Tensor f1);
  bool needs_end_derivative() const;  // of the last step added
  Tensor at(double t) const;

 private:
  struct Step {
    double ta, tb;
    Tensor y0, y1, f0, f1;
    std::vector<Tensor> k;
  };
  Tableau tab_;  // a copy: a user's tableau may not outlive the solution
  double t0_, t1_;
  std::vector<Step> steps_;
};

}  // namespace flowtape::solvers
