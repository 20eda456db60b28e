// SPDX-License-Identifier: MIT
// apply(): runs one primitive op. The order matters: the output is recorded on the tape
// before its tangent is computed, so that tangent ops which read the output (exp's tangent is
// out * dx) see it as a tracked tensor and reverse mode flows through them. An op with a joint
// rule for itself and its tangent (silu; OpDef::vjp_with_tangent) is recorded after both, as
// one node, and its JVP rule runs unrecorded: the joint rule differentiates through it.
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "flowtape/autodiff/object_pool.hpp"
#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"

namespace flowtape {

Tensor apply(const OpDef& op, TensorList in, const Attrs& attrs) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (!in[i].defined())
      throw std::invalid_argument(std::string(op.name) + ": input " + std::to_string(i) +
                                  " is an undefined Tensor");
    if (in[i].dtype() != in[0].dtype())
      throw std::invalid_argument(std::string(op.name) + ": dtype mismatch, " + in[0].str() +
                                  " and " + in[i].str() + " (convert with to_dtype)");
    if (in[i].device() != in[0].device())
      throw std::invalid_argument(std::string(op.name) + ": device mismatch, " + in[0].str() +
                                  " and " + in[i].str());
  }
  if (in.empty()) throw std::invalid_argument(std::string(op.name) + ": no inputs");

  const Shape out_shape = op.shape(in, attrs);
  Tensor out;
  if (op.aliases_input) {
    auto impl = detail::make_pooled<TensorImpl>();
    impl->shape = out_shape;
    impl->dtype = in[0].dtype();
    impl->device = in[0].device();
    out = Tensor(std::move(impl));
  } else {
    out = empty(out_shape, in[0].dtype(), in[0].device());
  }
  // Whether the rules may run: the op is recorded (some input is on the active tape) or its
  // tangent is computed (some input carries one). Only then is a residual worth keeping.
  Tape* tape = op.vjp && recording() ? Tape::active() : nullptr;
  bool tracked = false;
  if (tape)
    for (const Tensor& x : in) tracked |= tape->tracks(x);
  bool tangent = false;
  if (op.jvp && detail::tangents_enabled())
    for (const Tensor& x : in) tangent |= x.has_tangent();

  // An op with a joint rule for itself and its tangent is recorded as one node with both
  // outputs, and its JVP rule's ops are not recorded (the joint rule stands for them). Where no
  // tangent op is recorded, an op may compute its tangent in its forward pass.
  const bool joint = tangent && tracked && op.vjp_with_tangent;
  TensorList tangents(tangent ? in.size() : 0);
  bool tangent_tracked = false;
  for (std::size_t i = 0; i < tangents.size(); ++i) {
    tangents[i] = in[i].tangent();
    if (tape) tangent_tracked |= tape->tracks(tangents[i]);
  }
  Tensor residual, t;
  const bool fused = tangent && op.forward_with_tangent &&
                     (joint || !(tracked || tangent_tracked)) &&
                     op.forward_with_tangent(in, tangents, attrs, out, residual, t);
  if (!fused) {
    if (op.forward_residual && (tracked || tangent))
      op.forward_residual(in, attrs, out, residual);
    else
      op.forward(in, attrs, out);
  }

  // The node keeps the inputs; they are still needed below only for the tangent.
  if (tracked && !joint) tape->record(op, tangent ? in : std::move(in), out, attrs, residual);
  if (!tangent) return out;

  if (!fused) {
    detail::TangentsOff rules_run_without_tangents;
    std::optional<detail::RecordingScope> joint_rule_stands_for_them;
    if (joint) joint_rule_stands_for_them.emplace(false);
    t = op.jvp(Saved{in, out, attrs, residual}, tangents);
    if (t.defined() && !(t.shape() == out_shape)) t = broadcast_to(t, out_shape);
  }
  if (joint && !t.defined()) {
    tape->record(op, std::move(in), out, attrs, residual);
  } else if (joint) {
    // t gets a slot of its own: it must not be a tensor the tape or the caller already has.
    bool taken = tape->tracks(t);
    for (const Tensor& x : tangents) taken |= x.defined() && x.impl() == t.impl();
    if (taken)
      throw std::logic_error(std::string(op.name) +
                             ": its JVP rule returned an input's tangent or a tracked tensor; an "
                             "op with a joint rule (vjp_with_tangent) must return a new one");
    TensorList inputs_and_tangents(2 * in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
      inputs_and_tangents[i] = std::move(in[i]);
      inputs_and_tangents[in.size() + i] = std::move(tangents[i]);
    }
    tape->record(op, std::move(inputs_and_tangents), out, attrs, residual, t);
  }
  out.impl()->tangent = std::move(t);
  return out;
}

}  // namespace flowtape
