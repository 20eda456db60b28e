// SPDX-License-Identifier: MIT
// Method names: the single table mapping Method <-> string.
#include "flowtape/solvers/method.hpp"

#include <array>
#include <stdexcept>
#include <string>
#include <utility>

namespace flowtape::solvers {
namespace {

constexpr std::array<std::pair<Method, std::string_view>, kMethods.size()> kNames = {{
    {Method::euler, "euler"},
    {Method::midpoint, "midpoint"},
    {Method::heun, "heun"},
    {Method::rk4, "rk4"},
    {Method::bosh3, "bosh3"},
    {Method::dopri5, "dopri5"},
    {Method::tsit5, "tsit5"},
    {Method::dopri8, "dopri8"},
    {Method::dop853, "dop853"},
}};

}  // namespace

Method method_from_name(std::string_view name) {
  for (const auto& [m, n] : kNames)
    if (n == name) return m;
  std::string valid;
  for (const auto& [m, n] : kNames) valid += (valid.empty() ? "" : ", ") + std::string(n);
  throw std::invalid_argument("unknown ODE method '" + std::string(name) +
                              "'; valid names: " + valid);
}

std::string_view method_name(Method m) {
  for (const auto& [mm, n] : kNames)
    if (mm == m) return n;
  throw std::invalid_argument("method_name: invalid Method value");
}

}  // namespace flowtape::solvers
