// SPDX-License-Identifier: MIT
// Method -> tableau lookup.
#include "flowtape/solvers/tableau.hpp"

#include <stdexcept>

#include "flowtape/solvers/tableau_dop853.hpp"

namespace flowtape::solvers {

const Tableau& tableau(Method m) {
  switch (m) {
    case Method::euler:
      return tableaus::euler;
    case Method::midpoint:
      return tableaus::midpoint;
    case Method::heun:
      return tableaus::heun;
    case Method::rk4:
      return tableaus::rk4;
    case Method::bosh3:
      return tableaus::bosh3;
    case Method::dopri5:
      return tableaus::dopri5;
    case Method::tsit5:
      return tableaus::tsit5;
    case Method::dopri8:
      return tableaus::dopri8;
    case Method::dop853:
      return tableaus::dop853;
  }
  throw std::invalid_argument("tableau: invalid Method value");
}

}  // namespace flowtape::solvers
