// SPDX-License-Identifier: MIT
// The shape of a primitive op's definition, and apply(), the one function that runs any op:
// shape rule -> forward kernel -> record on the active tape -> forward-mode tangent.
//
// Every primitive is one `OpDef` constant (see ops_*.cpp), in the spirit of JAX's primitive
// rules and PyTorch's derivatives.yaml: a shape rule, a forward that calls into kernels/, a
// JVP rule and a VJP rule. Both rules are written with differentiable Tensor ops, which gives
// with no further code: reverse mode, forward mode, reverse-over-forward (the tangent ops are
// recorded) and forward-over-reverse (backward ops carry tangents). An op may add a joint
// rule for itself and its tangent (vjp_with_tangent, below): reverse-over-forward then
// records one node for both instead of the tangent ops.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "flowtape/autodiff/tensor.hpp"
#include "flowtape/autodiff/tensor_list.hpp"

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

// What a rule can see: the op's inputs, its output, its attributes and its residual: a
// by-product of the forward pass kept for the rules (JAX's word), undefined when the op has
// none or its forward ran without it.
struct Saved {
  Inputs in;
  const Tensor& out;
  const Attrs& attrs;
  const Tensor& residual;
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
  // the output shape.
  Shape (*shape)(Inputs, const Attrs&);
  // Fills `out`, allocated with the output shape and the inputs' dtype.
  void (*forward)(Inputs, const Attrs&, Tensor& out);
  // The output tangent from the input tangents (undefined = zero). It may have any shape that
  // broadcasts to the output. nullptr: the op has no derivative (comparisons, sign).
  Tensor (*jvp)(const Saved&, Inputs tangents);
  // The input cotangents from the output cotangent g. nullptr: no derivative.
  void (*vjp)(const Saved&, const Tensor& g, Grads& grads);
  // When true, forward() may replace out's storage with an input's (reshape): apply() then
  // skips allocating the output buffer.
  bool aliases_input = false;
  // Optional: a forward that also returns a residual for the rules (it allocates it, or
  // leaves it undefined). apply() calls it instead of forward() only when the op is recorded
  // on a tape or its tangent is computed (and forward_with_tangent, if any, declined), so
  // inference pays nothing. silu keeps 1 + e^-x,
  // which saves its derivatives an exp (for one more buffer written and read). Like the
  // inputs the tape keeps, a residual holds the values of forward time: writing into an
  // input's buffer afterwards (not something the library does while a tape is in use) would
  // leave the rules mixing new inputs with an old residual.
  void (*forward_residual)(Inputs, const Attrs&, Tensor& out, Tensor& residual) = nullptr;
  // Optional: the VJP of the op and of its tangent together, for reverse mode through forward
  // mode (a loss that holds a JVP, as FDM's divergence does). When an op with this rule is
  // recorded while its tangent is computed, apply() records one node with two outputs, out and
  // its tangent t, instead of the op's node followed by the nodes of its JVP rule's ops (the
  // JVP rule then runs unrecorded). The backward pass reads the shared inputs once, and the
  // input's two partial cotangents (through out and through t) are summed by the rule, not by
  // the tape. The rule gets the cotangents g of out and gt of t (either may be undefined, not
  // both) and writes those of the inputs in grads[0, n) and of their tangents in
  // grads[n, 2n). The op's JVP rule must return a new tensor (t gets a slot of its own on the
  // tape; apply() refuses an input's tangent or a tracked tensor).
  void (*vjp_with_tangent)(const Saved&, Inputs tangents, const Tensor& g, const Tensor& gt,
                           Grads& grads) = nullptr;
  // Optional: the forward and the tangent in one pass, as forward_residual does plus the JVP
  // rule's result in t (broadcast to out's shape). apply() calls it when a tangent is computed
  // and no tangent op is to be recorded (no input or input tangent on the active tape, or the
  // op recorded as a joint node);
  // it returns false where it does not apply (a device, a shape), and apply() then runs the
  // forward and the JVP rule.
  bool (*forward_with_tangent)(Inputs, Inputs tangents, const Attrs&, Tensor& out, Tensor& residual,
                               Tensor& t) = nullptr;
};

// The inputs come as a TensorList, which holds up to four without a heap call.
Tensor apply(const OpDef& op, TensorList inputs, const Attrs& attrs = {});

}  // namespace flowtape
