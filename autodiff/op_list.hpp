// SPDX-License-Identifier: MIT
// The op list: every primitive of the engine, once. From it come the OpDef declarations
// (op_<name>, defined in the ops_*.cpp file named beside each group) and all_ops(), the
// enumeration the gradient tests iterate, so that a primitive added here and left out of the
// tests fails them. The unary elementwise ops come from their own table
// (kernels/unary_ops.hpp), which also gives the device code and the entry functions.
//
// Adding a primitive: a row here, its OpDef in the matching ops_*.cpp, its entry function in
// ops.hpp (docs/autodiff.md, "How to add an op").
#pragma once

#include <span>

#include "flowtape/autodiff/op.hpp"
#include "flowtape/kernels/unary_ops.hpp"

// X(name, ...): the extra arguments are the unary table's.
// clang-format off
#define FLOWTAPE_PRIMITIVES(X)                                                                \
  /* ops_elementwise.cpp */                                                                   \
  X(add) X(sub) X(mul) X(div) X(where) X(greater) X(less) X(equal) X(sign) X(pow) X(identity) \
  FLOWTAPE_UNARY_OPS(X)                                                                       \
  /* ops_silu.cpp */                                                                          \
  X(silu) X(silu_grad) X(silu_grad2) X(silu_keeping_denominator) X(silu_with_tangent)         \
  X(silu_with_tangent_vjp)                                                                    \
  /* ops_reduce.cpp */                                                                        \
  X(sum) X(max) X(logsumexp) X(softmax)                                                       \
  /* ops_matmul.cpp */                                                                        \
  X(matmul) X(linear)                                                                         \
  /* ops_layer.cpp */                                                                         \
  X(linear_silu) X(silu_grad_column_sums)                                                     \
  /* ops_shape.cpp */                                                                         \
  X(reshape) X(broadcast_to) X(sum_to) X(permute) X(slice) X(pad) X(concat)                   \
  /* ops_index.cpp */                                                                         \
  X(gather) X(scatter_add)                                                                    \
  /* ops_device.cpp */                                                                        \
  X(to_device)
// clang-format on

namespace flowtape {

#define FLOWTAPE_DECLARE_PRIMITIVE(name, ...) extern const OpDef op_##name;
FLOWTAPE_PRIMITIVES(FLOWTAPE_DECLARE_PRIMITIVE)
#undef FLOWTAPE_DECLARE_PRIMITIVE

// Every primitive, in the list's order.
std::span<const OpDef* const> all_ops();

}  // namespace flowtape
