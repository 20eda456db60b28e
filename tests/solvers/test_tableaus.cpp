// SPDX-License-Identifier: MIT
// Every tableau against the theory: row sums c_i = sum_j a_ij, the order conditions of all
// rooted trees up to the stated order for b (and the embedded order for b_hat), at least one
// condition of the next order violated (the order is not understated), the FSAL structure, and
// the interpolants (dopri5's and tsit5's of order 4, dop853's of order 7, at several theta; end
// values and slopes).
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <vector>

#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/solvers/integrate.hpp"
#include "flowtape/solvers/order_conditions.hpp"
#include "flowtape/solvers/tableau.hpp"
#include "flowtape/solvers/tableau_dop853.hpp"

using namespace flowtape::solvers;
namespace coeffs = flowtape::solvers::tableaus;

namespace {

const std::vector<const Tableau*> kAll = {&coeffs::euler, &coeffs::midpoint, &coeffs::heun,
                                          &coeffs::rk4,   &coeffs::bosh3,    &coeffs::dopri5,
                                          &coeffs::tsit5, &coeffs::dopri8,   &coeffs::dop853};

}  // namespace

BOOST_AUTO_TEST_SUITE(tableaus)

BOOST_AUTO_TEST_CASE(tree_counts) {
  const auto trees = rooted_trees(9);
  const int expected[] = {0, 1, 1, 2, 4, 9, 20, 48, 115, 286};
  for (int n = 1; n <= 9; ++n) {
    int count = 0;
    for (const RootedTree& t : trees) count += t.order == n;
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
  for (const Tableau* tab : kAll) {
    BOOST_TEST_CONTEXT(tab->name) {
      for (int p = 1; p <= tab->order; ++p)
        BOOST_TEST(order_defect(*tab, tab->b, p) < 1e-13, "b, order " << p);
      // The stated order is the order: some condition of the next order fails.
      BOOST_TEST(order_defect(*tab, tab->b, tab->order + 1) > 1e-6);
      if (tab->adaptive()) {
        for (int p = 1; p <= tab->error_order; ++p)
          BOOST_TEST(order_defect(*tab, tab->b_hat, p) < 1e-13, "b_hat, order " << p);
        BOOST_TEST(order_defect(*tab, tab->b_hat, tab->error_order + 1) > 1e-6);
      }
      if (tab->error_order_low > 0) {
        for (int p = 1; p <= tab->error_order_low; ++p)
          BOOST_TEST(order_defect(*tab, tab->b_hat_low, p) < 1e-13, "b_hat_low, order " << p);
        BOOST_TEST(order_defect(*tab, tab->b_hat_low, tab->error_order_low + 1) > 1e-6);
      }
      // validate_tableau, which integrate() runs on a user's tableau, accepts every one of ours.
      BOOST_CHECK_NO_THROW(validate_tableau(*tab));
    }
  }
}

// A tableau of the user's own, integrated through the public API: Ralston's third-order
// method (fixed step) converges at order 3, and the Heun-Euler 2(1) pair runs adaptively to
// its tolerance. A tableau that misstates its order or its structure is refused, naming why.
BOOST_AUTO_TEST_CASE(a_users_tableau_is_checked_and_integrated) {
  using flowtape::Tensor;
  constexpr Tableau ralston3{.name = "ralston3",
                             .stages = 3,
                             .order = 3,
                             .c = {0.0, 1.0 / 2, 3.0 / 4},
                             .a = {{{}, {1.0 / 2}, {0.0, 3.0 / 4}}},
                             .b = {2.0 / 9, 1.0 / 3, 4.0 / 9}};
  const VectorField decay = [](double, const Tensor& y) { return -y; };
  const Tensor y0 = flowtape::full(flowtape::Shape{1}, 1.0, flowtape::DType::f64);
  double errors[2];
  for (int k = 0; k < 2; ++k) {
    IntegrateOptions o;
    o.n_steps = 10 << k;
    const double y1 = integrate(decay, y0, 0.0, 2.0, ralston3, o).ys.back().item();
    errors[k] = std::abs(y1 - std::exp(-2.0));
  }
  BOOST_TEST_MESSAGE("ralston3: error ratio on halving the step " << errors[0] / errors[1]);
  BOOST_TEST(std::abs(std::log2(errors[0] / errors[1]) - 3.0) < 0.2);

  constexpr Tableau heun_euler{.name = "heun_euler",
                               .stages = 2,
                               .order = 2,
                               .error_order = 1,
                               .c = {0.0, 1.0},
                               .a = {{{}, {1.0}}},
                               .b = {1.0 / 2, 1.0 / 2},
                               .b_hat = {1.0, 0.0}};
  IntegrateOptions o;
  o.rtol = 1e-6;
  o.atol = 1e-9;
  const Solution s = integrate(decay, y0, 0.0, 2.0, heun_euler, o);
  BOOST_TEST(std::abs(s.ys.back().item() - std::exp(-2.0)) < 1e-4);
  BOOST_TEST(s.stats.accepted > 20);  // a second-order method takes many steps at 1e-6
  BOOST_TEST(s.step_ts.size() == static_cast<std::size_t>(s.stats.accepted + 1));
  BOOST_TEST(s.step_ts.front() == 0.0);
  BOOST_TEST(s.step_ts.back() == 2.0);
  for (std::size_t i = 1; i < s.step_ts.size(); ++i) BOOST_TEST(s.step_ts[i] > s.step_ts[i - 1]);

  const auto refused = [&](Tableau bad, const std::string& part) {
    BOOST_CHECK_EXCEPTION(integrate(decay, y0, 0.0, 1.0, bad, {.n_steps = 4}),
                          std::invalid_argument, [&](const std::invalid_argument& e) {
                            BOOST_TEST_MESSAGE(e.what());
                            return std::string(e.what()).find(part) != std::string::npos;
                          });
  };
  Tableau overstated = ralston3;
  overstated.order = 4;
  refused(overstated, "misses an order-4 condition");
  Tableau wrong_c = ralston3;
  wrong_c.c[2] = 0.7;
  refused(wrong_c, "is not the row sum");
  Tableau implicit = ralston3;
  implicit.a[1][1] = 0.1;
  refused(implicit, "explicit methods only");
  Tableau bad_embedded = heun_euler;
  bad_embedded.b_hat = {0.9, 0.0};
  refused(bad_embedded, "b_hat misses an order-1 condition");
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
  // dopri8 (13M) and dop853 are not FSAL: their last stage is not evaluated at y1.
  BOOST_TEST(!coeffs::dopri8.fsal);
  BOOST_TEST(!coeffs::dop853.fsal);
}

// The methods' own interpolants: P_i(1) = b_i, P_i'(0) = [i == 0] (the interpolant starts with
// f(y0)), and sum_i P_i(theta) Phi_t(i) = theta^|t| / gamma(t) for all trees up to the
// interpolant's order (4 for dopri5 and tsit5, 7 for dop853, whose sums run over its dense
// stages too), so it has that order at every theta, and not the next. dopri5's and dop853's
// also match f at the end: P_i'(1) = [stage i is f(t + h, y1)]. (Decimal coefficients: 1e-12.)
BOOST_AUTO_TEST_CASE(own_dense_output) {
  for (const Tableau* t : {&coeffs::dopri5, &coeffs::tsit5, &coeffs::dop853}) {
    const Tableau& tab = *t;
    const int order = &tab == &coeffs::dop853 ? 7 : 4;
    const std::size_t end_stage = &tab == &coeffs::dop853 ? 12 : 6;
    BOOST_TEST_CONTEXT(tab.name) {
      BOOST_TEST(tab.dense_degree == order);
      const auto n = static_cast<std::size_t>(tab.stages + tab.dense_stages);
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
      for (std::size_t i = 0; i < n; ++i) {
        BOOST_TEST(std::abs(P(i, 1.0) - tab.b[i]) < 1e-13, "stage " << i);
        BOOST_TEST(std::abs(dP(i, 0.0) - (i == 0 ? 1.0 : 0.0)) < 1e-13, "stage " << i);
        if (&tab != &coeffs::tsit5)
          BOOST_TEST(std::abs(dP(i, 1.0) - (i == end_stage ? 1.0 : 0.0)) < 1e-12, "stage " << i);
      }
      const auto trees = rooted_trees(order + 1);
      const auto g = stage_products(tab, trees);
      for (double th : {0.1, 0.37, 0.5, 0.81}) {
        double next_order_defect = 0;
        for (std::size_t k = 0; k < trees.size(); ++k) {
          double phi = 0;
          for (std::size_t i = 0; i < n; ++i) phi += P(i, th) * g[k][i];
          const double defect = std::abs(phi - std::pow(th, trees[k].order) / trees[k].gamma);
          if (trees[k].order <= order)
            BOOST_TEST(defect < 1e-12, "theta " << th << " tree " << k);
          else
            next_order_defect = std::max(next_order_defect, defect);
        }
        BOOST_TEST(next_order_defect > 1e-6, "theta " << th);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(names_round_trip) {
  for (Method m : kMethods) {
    BOOST_TEST((method_from_name(method_name(m)) == m));
    BOOST_TEST(tableau(m).name == method_name(m));
  }
}

BOOST_AUTO_TEST_SUITE_END()
