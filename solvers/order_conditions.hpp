// SPDX-License-Identifier: MIT
// Butcher's order conditions, to check a tableau before it is trusted: a Runge-Kutta method
// has order p when, for every rooted tree t with at most p vertices, sum_i b_i Phi_t(i) equals
// 1 / gamma(t), where Phi_t(i) is the product over t's subtrees c of (A Phi_c)(i) and gamma(t)
// is the tree's density. validate_tableau checks a user's tableau (or ours) against the orders
// it states, so integrate() can take any tableau.
#pragma once

#include <array>
#include <vector>

#include "flowtape/solvers/tableau.hpp"

namespace flowtape::solvers {

// A rooted tree: its subtrees at the root (indices into the list of smaller trees), its number
// of vertices and its density gamma.
struct RootedTree {
  std::vector<int> children;
  int order;
  double gamma;
};

// Every rooted tree with 1 to max_order vertices (1, 1, 2, 4, 9, 20, 48, 115, 286 of each order
// up to 9), smaller trees first.
std::vector<RootedTree> rooted_trees(int max_order);

// Phi_t(i) for every tree of `trees` (in that list's order) and stage i of `tab`: the product
// over t's subtrees c of (A Phi_c)(i). The elementary weight of t is sum_i b_i Phi_t(i).
std::vector<std::vector<double>> stage_products(const Tableau& tab,
                                                const std::vector<RootedTree>& trees);

// max over the trees of exactly `order` vertices of |sum_i w_i Phi_t(i) - 1 / gamma(t)|, for the
// weights w (b, or b_hat) of `tab`.
double order_defect(const Tableau& tab, const std::array<double, kMaxStages>& w, int order);

// Throws std::invalid_argument naming the tableau and what fails: the stage count (1 ..
// kMaxStages), finite coefficients, an explicit A (zero on and above the diagonal), c_1 = 0
// and c_i = sum_j a_ij, b's order conditions up to `order` (at most 9), b_hat's up to
// `error_order` and b_hat_low's up to `error_order_low`, the FSAL structure when fsal is set,
// and a dense output's degree, its dense stages (the first is f(t + h, y1)) and its end value
// P_i(1) = b_i. The order
// conditions are checked to `tolerance` (coefficients are rounded to doubles).
void validate_tableau(const Tableau& tab, double tolerance = 1e-12);

}  // namespace flowtape::solvers
