// SPDX-License-Identifier: MIT
// Every tableau against the theory: row sums c_i = sum_j a_ij, the order conditions of all
// rooted trees up to the stated order for b (and the embedded order for b_hat), at least one
// condition of the next order violated (the order is not understated), the FSAL structure, and
// dopri5's interpolant (order 4 conditions at several theta, end values and slopes).
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <vector>

#include "flowtape/solvers/tableau.hpp"

using namespace flowtape::solvers;
namespace coeffs = flowtape::solvers::tableaus;

namespace {

const std::vector<const Tableau*> kAll = {&coeffs::euler, &coeffs::midpoint, &coeffs::heun,
                                          &coeffs::rk4,   &coeffs::bosh3,    &coeffs::dopri5,
                                          &coeffs::tsit5, &coeffs::dopri8};

// A rooted tree: its children (indices into the list of smaller trees), order and density.
struct Tree {
  std::vector<int> children;
  int order;
  double gamma;
};

// All rooted trees with up to p vertices (1, 1, 2, 4, 9, 20, 48, 115, 286 of each order).
std::vector<Tree> trees_up_to(int p) {
  std::vector<Tree> all{{{}, 1, 1.0}};
  for (int n = 2; n <= p; ++n) {
    std::vector<Tree> fresh;
    // Multisets of existing trees (non-decreasing indices) whose orders sum to n - 1.
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

// The stage vectors g_t(i) = prod over children c of (A g_c)(i), for every tree.
std::vector<std::vector<double>> stage_weights(const Tableau& tab, const std::vector<Tree>& trees) {
  const auto s = static_cast<std::size_t>(tab.stages);
  std::vector<std::vector<double>> g;
  for (const Tree& t : trees) {
    std::vector<double> v(s, 1.0);
    for (int c : t.children) {
      const auto& gc = g[static_cast<std::size_t>(c)];
      for (std::size_t i = 0; i < s; ++i) {
        double a_gc = 0;
        for (std::size_t j = 0; j < i; ++j) a_gc += tab.a[i][j] * gc[j];
        v[i] *= a_gc;
      }
    }
    g.push_back(v);
  }
  return g;
}

// max over trees of the given order of |sum_i w_i g_t(i) - 1 / gamma(t)|.
double defect(const std::vector<Tree>& trees, const std::vector<std::vector<double>>& g,
              const std::array<double, kMaxStages>& w, int stages, int order) {
  double worst = 0;
  for (std::size_t k = 0; k < trees.size(); ++k) {
    if (trees[k].order != order) continue;
    double phi = 0;
    for (int i = 0; i < stages; ++i)
      phi += w[static_cast<std::size_t>(i)] * g[k][static_cast<std::size_t>(i)];
    worst = std::max(worst, std::abs(phi - 1.0 / trees[k].gamma));
  }
  return worst;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tableaus)

BOOST_AUTO_TEST_CASE(tree_counts) {
  const auto trees = trees_up_to(9);
  const int expected[] = {0, 1, 1, 2, 4, 9, 20, 48, 115, 286};
  for (int n = 1; n <= 9; ++n) {
    int count = 0;
    for (const Tree& t : trees) count += t.order == n;
    BOOST_TEST(count == expected[n], "order " << n);
  }
}

BOOST_AUTO_TEST_CASE(row_sums_equal_c) {
  for (const Tableau* tab : kAll) {
    BOOST_TEST(tab->c[0] == 0.0);
    for (int i = 1; i < tab->stages; ++i) {
      double s = 0;
      for (int j = 0; j < i; ++j)
        s += tab->a[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
      BOOST_TEST(std::abs(s - tab->c[static_cast<std::size_t>(i)]) < 1e-14,
                 tab->name << " row " << i << ": sum " << s << " vs c "
                           << tab->c[static_cast<std::size_t>(i)]);
    }
  }
}

BOOST_AUTO_TEST_CASE(order_conditions) {
  const auto trees = trees_up_to(9);
  for (const Tableau* tab : kAll) {
    BOOST_TEST_CONTEXT(tab->name) {
      const auto g = stage_weights(*tab, trees);
      for (int p = 1; p <= tab->order; ++p)
        BOOST_TEST(defect(trees, g, tab->b, tab->stages, p) < 1e-13, "b, order " << p);
      // The stated order is the order: some condition of the next order fails.
      BOOST_TEST(defect(trees, g, tab->b, tab->stages, tab->order + 1) > 1e-6);
      if (tab->adaptive()) {
        for (int p = 1; p <= tab->error_order; ++p)
          BOOST_TEST(defect(trees, g, tab->b_hat, tab->stages, p) < 1e-13, "b_hat, order " << p);
        BOOST_TEST(defect(trees, g, tab->b_hat, tab->stages, tab->error_order + 1) > 1e-6);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(fsal_structure) {
  for (const Tableau* tab : kAll) {
    if (!tab->fsal) continue;
    const auto last = static_cast<std::size_t>(tab->stages - 1);
    BOOST_TEST(tab->c[last] == 1.0, tab->name);
    BOOST_TEST(tab->b[last] == 0.0, tab->name);
    for (std::size_t j = 0; j < last; ++j)
      BOOST_TEST(tab->a[last][j] == tab->b[j], tab->name << " " << j);
  }
  // dopri8 (13M) is not FSAL: its last stage is not evaluated at y1.
  BOOST_TEST(!coeffs::dopri8.fsal);
}

// dopri5's interpolant: P_i(1) = b_i, P_i'(0) = [i == 0], P_i'(1) = [i == 6] (it matches f at
// both ends), and sum_i P_i(theta) g_t(i) = theta^|t| / gamma(t) for all trees up to order 4.
BOOST_AUTO_TEST_CASE(dopri5_dense_output) {
  const Tableau& tab = coeffs::dopri5;
  BOOST_TEST(tab.dense_degree == 4);
  auto P = [&](std::size_t i, double th) {
    double p = 0;
    for (int j = tab.dense_degree - 1; j >= 0; --j)
      p = p * th + tab.dense[i][static_cast<std::size_t>(j)];
    return p * th;
  };
  auto dP = [&](std::size_t i, double th) {
    double p = 0;
    for (int j = tab.dense_degree - 1; j >= 0; --j)
      p = p * th + (j + 1) * tab.dense[i][static_cast<std::size_t>(j)];
    return p;
  };
  for (std::size_t i = 0; i < 7; ++i) {
    BOOST_TEST(std::abs(P(i, 1.0) - tab.b[i]) < 1e-14, "stage " << i);
    BOOST_TEST(std::abs(dP(i, 0.0) - (i == 0 ? 1.0 : 0.0)) < 1e-14, "stage " << i);
    BOOST_TEST(std::abs(dP(i, 1.0) - (i == 6 ? 1.0 : 0.0)) < 1e-13, "stage " << i);
  }
  const auto trees = trees_up_to(5);
  const auto g = stage_weights(tab, trees);
  for (double th : {0.1, 0.37, 0.5, 0.81}) {
    std::array<double, kMaxStages> w{};
    for (std::size_t i = 0; i < 7; ++i) w[i] = P(i, th);
    for (std::size_t k = 0; k < trees.size(); ++k) {
      double phi = 0;
      for (std::size_t i = 0; i < 7; ++i) phi += w[i] * g[k][i];
      const double target = std::pow(th, trees[k].order) / trees[k].gamma;
      if (trees[k].order <= 4)
        BOOST_TEST(std::abs(phi - target) < 1e-14, "theta " << th << " tree " << k);
    }
  }
}

BOOST_AUTO_TEST_CASE(names_round_trip) {
  for (Method m : {Method::euler, Method::midpoint, Method::heun, Method::rk4, Method::bosh3,
                   Method::dopri5, Method::tsit5, Method::dopri8}) {
    BOOST_TEST((method_from_name(method_name(m)) == m));
    BOOST_TEST(tableau(m).name == method_name(m));
  }
}

BOOST_AUTO_TEST_SUITE_END()
