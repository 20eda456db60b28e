// SPDX-License-Identifier: MIT
// flowtape's ODE/SDE solvers in one include.
#pragma once

#include "flowtape/solvers/adjoint.hpp"
#include "flowtape/solvers/integrate.hpp"
#include "flowtape/solvers/method.hpp"
#include "flowtape/solvers/options.hpp"
#include "flowtape/solvers/order_conditions.hpp"
#include "flowtape/solvers/sde.hpp"
#include "flowtape/solvers/tableau.hpp"
#include "flowtape/solvers/tableau_dop853.hpp"
