// SPDX-License-Identifier: MIT
// The named integration methods and their string names ("dopri5", ...), for options and
// command lines.
#pragma once

#include <array>
#include <string_view>

namespace flowtape::solvers {

enum class Method { euler, midpoint, heun, rk4, bosh3, dopri5, tsit5, dopri8, dop853 };

inline constexpr std::array<Method, 9> kMethods = {Method::euler, Method::midpoint, Method::heun,
                                                   Method::rk4,   Method::bosh3,    Method::dopri5,
                                                   Method::tsit5, Method::dopri8,   Method::dop853};

// Throws std::invalid_argument listing the valid names when `name` is not one of them.
Method method_from_name(std::string_view name);
std::string_view method_name(Method m);

}  // namespace flowtape::solvers
