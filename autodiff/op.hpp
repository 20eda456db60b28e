// SPDX-License-Identifier: MIT
// The shape of a primitive op's definition, and apply(), the one function that runs any op:
// shape rule -> forward kernel -> record on the active tape -> forward-mode tangent.
//
// Every primitive is one `OpDef` constant (see ops_*.cpp), in the spirit of JAX's primitive
// rules and PyTorch's derivatives.yaml: a shape rule, a forward that calls into kernels/, a
// JVP rule and a VJP rule. Both rules are written with differentiable Tensor ops, which gives
// with no further code: reverse mode, forward mode, reverse-over-forward (the tangent ops are
// recorded) and forward-over-reverse (backward ops carry tangents).
//
// Most ops have one output. An op may have several (JAX's multiple_results): each gets a
// tangent and a cotangent of its own. It may also end with residuals: outputs that are not
// differentiated (no tape slot, no tangent), by-products of the forward that its rules read
// instead of recomputing them (silu's 1 + e^-x; see ops_silu.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "flowtape/runtime/tensor.hpp"
#include "flowtape/runtime/tensor_list.hpp"

namespace flowtape {

// Static parameters of an op (JAX calls them params). Each op reads the fields it needs.
struct Attrs {
  int axis = 0;
  bool keepdims = false;
  double scalar = 0.0;  // pow's exponent
  bool trans_a = false, trans_b = false;
  Shape shape;  // reshape / broadcast_to / sum_to target
  Shape perm;   // permute's axis order
  std::int64_t start = 0, count = 0, length = 0;  // slice / pad along `axis`
  Device device = Device::cpu;                    // to_device's target
};

using Inputs = std::span<const Tensor>;
using Outputs = std::span<Tensor>;

struct OpDef;

// What a rule can see: the op, its inputs, its outputs (residuals included) and its attributes.
struct Saved {
  const OpDef& op;
  Inputs in;
  Inputs out;
  const Attrs& attrs;
};

// Where a VJP rule writes its results: grads[i] is the cotangent of input i (leave it
// undefined for zero); wants(i) says whether anyone needs it, so rules can skip work.
struct Grads {
  std::span<Tensor> grads;
  std::span<const char> wanted;
  bool wants(std::size_t i) const { return wanted[i] != 0; }
  Tensor& operator[](std::size_t i) { return grads[i]; }
};

struct OpDef {
  const char* name;
  // Validates the inputs (throwing std::invalid_argument that names the shapes) and returns
  // the shape of output 0.
  Shape (*shape)(Inputs, const Attrs&);
  // Fills the outputs. out[0] comes allocated with the shape rule's shape, the dtype rule's
  // dtype (below) and the inputs' device; the forward allocates any further outputs itself.
  void (*forward)(Inputs, const Attrs&, Outputs out);
  // The outputs' tangents (one per differentiable output; undefined = zero) from the inputs'
  // tangents (undefined = zero). A tangent may have any shape that broadcasts to its output's.
  // nullptr: the op has no derivative (comparisons, sign).
  TensorList (*jvp)(const Saved&, Inputs tangents) = nullptr;
  // The inputs' cotangents from the outputs' cotangents g (one per differentiable output;
  // undefined = zero, never all of them). nullptr: no derivative.
  void (*vjp)(const Saved&, Inputs g, Grads& grads) = nullptr;
  // Checks the inputs' dtypes (throwing std::invalid_argument that names them) and returns
  // output 0's. nullptr: the inputs share one floating-point dtype, which output 0 has. Only
  // floating-point outputs are differentiable: an op whose output 0 is an integer or boolean
  // tensor (a comparison) is not recorded and gets no tangent.
  DType (*dtype)(Inputs, const char* name) = nullptr;
  // When true, forward() may replace out[0]'s storage with an input's (reshape): apply() then
  // skips allocating its buffer.
  bool aliases_input = false;
  // How many outputs are differentiated, and how many residuals follow them (at most
  // kMaxOutputs in all, which keeps a tape node small).
  int outputs = 1;
  int residuals = 0;
  static constexpr int kMaxOutputs = 3;
};

// Runs `op` on the inputs (a TensorList holds up to five without a heap call). apply()
// returns the op's only output; apply_all() returns all of them, residuals included.
Tensor apply(const OpDef& op, TensorList inputs, const Attrs& attrs = {});
TensorList apply_all(const OpDef& op, TensorList inputs, const Attrs& attrs = {});

}  // namespace flowtape
