// SPDX-License-Identifier: MIT
// apply(): runs one primitive op, in four steps: check the inputs, run the forward kernel,
// record the op on the active tape, compute the outputs' tangents. The order of the last two
// matters: the outputs are recorded before their tangents are computed, so that tangent ops
// which read an output (exp's tangent is out * dx) see it as a tracked tensor and reverse mode
// flows through them.
#include <stdexcept>
#include <string>
#include <utility>

#include "flowtape/autodiff/object_pool.hpp"
#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"

namespace flowtape {
namespace {

void check_inputs(const OpDef& op, const TensorList& in) {
  if (in.empty()) throw std::invalid_argument(std::string(op.name) + ": no inputs");
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
}

// Output 0 as the forward receives it: allocated, or (aliases_input) a shell whose storage
// the forward sets.
Tensor first_output(const OpDef& op, const Shape& shape, const Tensor& like) {
  if (!op.aliases_input) return empty(shape, like.dtype(), like.device());
  auto impl = detail::make_pooled<TensorImpl>();
  impl->shape = shape;
  impl->dtype = like.dtype();
  impl->device = like.device();
  return Tensor(std::move(impl));
}

}  // namespace

TensorList apply_all(const OpDef& op, TensorList in, const Attrs& attrs) {
  // 1. Check.
  check_inputs(op, in);
  const Shape shape = op.shape(in, attrs);

  // 2. Forward.
  TensorList out(static_cast<std::size_t>(op.outputs + op.residuals));
  out[0] = first_output(op, shape, in[0]);
  op.forward(in, attrs, out);

  // 3. Record, if some input is on the active tape. The node keeps the inputs (moved in when
  // the tangent below does not need them).
  bool tangent = false;
  if (op.jvp && detail::tangents_enabled())
    for (const Tensor& x : in) tangent |= x.has_tangent();
  if (Tape* tape = op.vjp && recording() ? Tape::active() : nullptr) {
    bool tracked = false;
    for (const Tensor& x : in) tracked |= tape->tracks(x);
    if (tracked) tape->record(op, tangent ? in : std::move(in), out, attrs);
  }

  // 4. Tangents, if some input carries one. The JVP rule's own ops get none (one level of
  // forward mode); they are recorded like any op, which is reverse-over-forward.
  if (!tangent) return out;
  TensorList tangents(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) tangents[i] = in[i].tangent();
  TensorList t;
  {
    detail::TangentsOff rules_run_without_tangents;
    t = op.jvp(Saved{op, in, out, attrs}, tangents);
  }
  for (std::size_t k = 0; k < t.size(); ++k) {
    if (t[k].defined() && !(t[k].shape() == out[k].shape()))
      t[k] = broadcast_to(t[k], out[k].shape());
    out[k].impl()->tangent = std::move(t[k]);
  }
  return out;
}

Tensor apply(const OpDef& op, TensorList in, const Attrs& attrs) {
  if (op.outputs + op.residuals != 1)
    throw std::logic_error(std::string(op.name) + " has several outputs: call apply_all()");
  return std::move(apply_all(op, std::move(in), attrs)[0]);
}

}  // namespace flowtape
