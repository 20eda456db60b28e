// flowtape's ODE/SDE solvers in one include.
#pragma once

#include "solvers/integrate.hpp"
#include "solvers/method.hpp"
#include "solvers/options.hpp"
#include "solvers/sde.hpp"
#include "solvers/tableau.hpp"
