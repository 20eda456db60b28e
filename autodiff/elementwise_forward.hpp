// SPDX-License-Identifier: MIT
// The forwards of elementwise ops (not part of the public API), shared by ops_elementwise.cpp
// and ops_silu.cpp: each names its op code, and the output's backend (runtime/backend.hpp)
// runs it.
#pragma once

#include "flowtape/autodiff/op.hpp"
#include "flowtape/runtime/backend.hpp"

namespace flowtape::rules {

// `scalar` is pow's exponent; the other unary ops ignore it.
template <UnaryOp C>
void unary_forward(Inputs in, const Attrs& a, Outputs out) {
  backend_of(out[0]).unary(C, in[0], out[0], a.scalar);
}

// With broadcasting, for one (copy), two or three (where) inputs.
template <NaryOp C>
void nary_forward(Inputs in, const Attrs&, Outputs out) {
  backend_of(out[0]).nary(C, in, out[0]);
}

}  // namespace flowtape::rules
