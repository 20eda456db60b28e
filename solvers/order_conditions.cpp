// SPDX-License-Identifier: MIT
// Rooted trees and the order conditions; see order_conditions.hpp.
#include "flowtape/solvers/order_conditions.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace flowtape::solvers {

std::vector<RootedTree> rooted_trees(int max_order) {
  std::vector<RootedTree> all;
  if (max_order < 1) return all;
  all.push_back({{}, 1, 1.0});
  for (int n = 2; n <= max_order; ++n) {
    std::vector<RootedTree> fresh;
    // A tree of n vertices is a root above a multiset of smaller trees (non-decreasing
    // indices) whose orders sum to n - 1.
    std::vector<int> pick;
    auto rec = [&](auto&& self, int remaining, int from) -> void {
      if (remaining == 0) {
        double g = n;
        for (int c : pick) g *= all[static_cast<std::size_t>(c)].gamma;
        fresh.push_back({pick, n, g});
        return;
      }
      for (int i = from; i < static_cast<int>(all.size()); ++i) {
        if (all[static_cast<std::size_t>(i)].order > remaining) break;
        pick.push_back(i);
        self(self, remaining - all[static_cast<std::size_t>(i)].order, i);
        pick.pop_back();
      }
    };
    rec(rec, n - 1, 0);
    all.insert(all.end(), fresh.begin(), fresh.end());
  }
  return all;
}

std::vector<std::vector<double>> stage_products(const Tableau& tab,
                                                const std::vector<RootedTree>& trees) {
  const auto s = static_cast<std::size_t>(tab.stages + tab.dense_stages);
  std::vector<std::vector<double>> phi;  // smaller trees first, so a subtree's is ready
  for (const RootedTree& t : trees) {
    std::vector<double> v(s, 1.0);
    for (int c : t.children) {
      const auto& pc = phi[static_cast<std::size_t>(c)];
      for (std::size_t i = 0; i < s; ++i) {
        double a_pc = 0;
        for (std::size_t j = 0; j < i; ++j) a_pc += tab.a[i][j] * pc[j];
        v[i] *= a_pc;
      }
    }
    phi.push_back(std::move(v));
  }
  return phi;
}

double order_defect(const Tableau& tab, const std::array<double, kMaxStages>& w, int order) {
  const std::vector<RootedTree> trees = rooted_trees(order);
  const std::vector<std::vector<double>> phi = stage_products(tab, trees);
  double worst = 0;
  for (std::size_t k = 0; k < trees.size(); ++k) {
    if (trees[k].order != order) continue;
    double sum = 0;
    for (std::size_t i = 0; i < static_cast<std::size_t>(tab.stages); ++i) sum += w[i] * phi[k][i];
    worst = std::max(worst, std::abs(sum - 1.0 / trees[k].gamma));
  }
  return worst;
}

void validate_tableau(const Tableau& tab, double tolerance) {
  const std::string who = "tableau '" + std::string(tab.name) + "': ";
  const auto bad = [&](const std::string& why) { throw std::invalid_argument(who + why); };
  if (tab.stages < 1 || tab.stages > kMaxStages)
    bad("stages must be in [1, " + std::to_string(kMaxStages) + "], got " +
        std::to_string(tab.stages));
  if (tab.order < 1 || tab.order > 9) bad("order must be in [1, 9]");
  if (tab.error_order < 0 || tab.error_order >= tab.order)
    bad("error_order must be 0 (fixed step only) or in [1, order)");
  if (tab.dense_degree < 0 || tab.dense_degree > kMaxDenseDegree)
    bad("dense_degree must be in [0, " + std::to_string(kMaxDenseDegree) + "]");
  if (tab.dense_stages < 0 || tab.stages + tab.dense_stages > kMaxStages)
    bad("dense_stages must be >= 0 with stages + dense_stages <= " + std::to_string(kMaxStages));
  if (tab.dense_stages > 0 && tab.dense_degree == 0)
    bad("dense stages without an interpolant (dense_degree = 0)");
  if (tab.error_order_low < 0 ||
      (tab.error_order_low > 0 && tab.error_order_low >= tab.error_order))
    bad("error_order_low must be 0 (none) or in [1, error_order)");
  const auto s = static_cast<std::size_t>(tab.stages);
  const auto s_dense = static_cast<std::size_t>(tab.stages + tab.dense_stages);
  for (std::size_t i = 0; i < static_cast<std::size_t>(kMaxStages); ++i) {
    const bool used = i < s_dense;
    if (!std::isfinite(tab.c[i]) || !std::isfinite(tab.b[i]) || !std::isfinite(tab.b_hat[i]) ||
        !std::isfinite(tab.b_hat_low[i]))
      bad("coefficients must be finite");
    if ((!used && tab.c[i] != 0) ||
        (i >= s && (tab.b[i] != 0 || tab.b_hat[i] != 0 || tab.b_hat_low[i] != 0)))
      bad("a coefficient beyond stage " + std::to_string(tab.stages) + " is not zero");
    for (std::size_t j = 0; j < static_cast<std::size_t>(kMaxDenseDegree); ++j)
      if (!std::isfinite(tab.dense[i][j]) ||
          ((!used || j >= static_cast<std::size_t>(tab.dense_degree)) && tab.dense[i][j] != 0))
        bad("the dense output's coefficients must be finite, and zero beyond its stages and "
            "degree");
    for (std::size_t j = 0; j < static_cast<std::size_t>(kMaxStages); ++j) {
      if (!std::isfinite(tab.a[i][j])) bad("coefficients must be finite");
      if ((j >= i || !used) && tab.a[i][j] != 0)
        bad("a[" + std::to_string(i) + "][" + std::to_string(j) +
            "] must be zero (explicit methods only: A strictly lower triangular)");
    }
  }
  if (tab.c[0] != 0) bad("c[0] must be 0");
  for (std::size_t i = 1; i < s_dense; ++i) {
    double row = 0;
    for (std::size_t j = 0; j < i; ++j) row += tab.a[i][j];
    if (std::abs(row - tab.c[i]) > tolerance * (1 + std::abs(row)))
      bad("c[" + std::to_string(i) + "] = " + std::to_string(tab.c[i]) +
          " is not the row sum of a, " + std::to_string(row));
  }
  // Each set of weights must meet every order condition up to the order the tableau states.
  const auto check_order = [&](const std::array<double, kMaxStages>& w, int stated,
                               const char* weights, const char* field) {
    for (int p = 1; p <= stated; ++p)
      if (const double d = order_defect(tab, w, p); d > tolerance)
        bad(std::string(weights) + " misses an order-" + std::to_string(p) + " condition by " +
            std::to_string(d) + " (the tableau states " + field + " " + std::to_string(stated) +
            ")");
  };
  check_order(tab.b, tab.order, "b", "order");
  check_order(tab.b_hat, tab.error_order, "b_hat", "error_order");
  check_order(tab.b_hat_low, tab.error_order_low, "b_hat_low", "error_order_low");
  if (tab.dense_stages > 0) {
    bool ok = tab.c[s] == 1.0;
    for (std::size_t j = 0; j < s; ++j) ok = ok && tab.a[s][j] == tab.b[j];
    if (!ok) bad("the first dense stage is f(t + h, y1): c = 1 and its row of a equal to b");
  }
  // The interpolant ends at the step's solution: P_i(1) = b_i.
  for (std::size_t i = 0; tab.dense_degree > 0 && i < s_dense; ++i) {
    double p1 = 0;
    for (std::size_t j = 0; j < static_cast<std::size_t>(tab.dense_degree); ++j)
      p1 += tab.dense[i][j];
    if (std::abs(p1 - (i < s ? tab.b[i] : 0.0)) > tolerance * (1 + std::abs(p1)))
      bad("the dense output at theta = 1 is not the solution (stage " + std::to_string(i) + ")");
  }
  if (tab.fsal) {
    const std::size_t last = s - 1;
    bool ok = tab.c[last] == 1.0 && tab.b[last] == 0.0;
    for (std::size_t j = 0; j < last; ++j) ok = ok && tab.a[last][j] == tab.b[j];
    if (!ok) bad("fsal needs the last stage at c = 1 with a's last row equal to b and b_last = 0");
  }
}

}  // namespace flowtape::solvers
