// SPDX-License-Identifier: MIT
// apply(): runs one primitive op, in four steps: check the inputs, run the forward kernel,
// record the op on the active tape, compute the outputs' tangents. The order of the last two
// matters: the outputs are recorded before their tangents are computed, so that tangent ops
// which read an output (exp's tangent is out * dx) see it as a tracked tensor and reverse mode
// flows through them.
#include <stdexcept>
#include <string>
#include <utility>

#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"
#include "flowtape/runtime/object_pool.hpp"

namespace flowtape {
namespace {

// The inputs share one floating-point dtype, output 0's.
DType floating_dtype(Inputs in, const char* name) {
  for (const Tensor& x : in)
    if (x.dtype() != in[0].dtype())
      throw std::invalid_argument(std::string(name) + ": dtype mismatch, " + in[0].str() + " and " +
                                  x.str() + " (convert with to_dtype)");
  if (!is_floating(in[0].dtype()))
    throw std::invalid_argument(std::string(name) + ": needs floating-point tensors, got " +
                                in[0].str() + " (convert with to_dtype)");
  return in[0].dtype();
}

// Checks the inputs and returns output 0's dtype.
DType check_inputs(const OpDef& op, const TensorList& in) {
  if (op.outputs < 1 || op.residuals < 0 || op.outputs + op.residuals > OpDef::kMaxOutputs)
    throw std::logic_error(std::string(op.name) + ": an op has 1 to " +
                           std::to_string(OpDef::kMaxOutputs) + " outputs and residuals in all");
  if (in.empty()) throw std::invalid_argument(std::string(op.name) + ": no inputs");
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (!in[i].defined())
      throw std::invalid_argument(std::string(op.name) + ": input " + std::to_string(i) +
                                  " is an undefined Tensor");
    if (in[i].device() != in[0].device())
      throw std::invalid_argument(std::string(op.name) + ": device mismatch, " + in[0].str() +
                                  " and " + in[i].str());
  }
  const Inputs all(in.data(), in.size());
  return op.dtype ? op.dtype(all, op.name) : floating_dtype(all, op.name);
}

// Output 0 as the forward receives it: allocated, or (aliases_input) a shell whose storage
// the forward sets.
Tensor first_output(const OpDef& op, const Shape& shape, DType dtype, Device device) {
  if (!op.aliases_input) return empty(shape, dtype, device);
  auto impl = detail::make_pooled<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->device = device;
  return Tensor(std::move(impl));
}

// The four steps, into `out` (op.outputs + op.residuals of them).
void run(const OpDef& op, TensorList& in, const Attrs& attrs, Outputs out) {
  // 1. Check.
  const DType dtype = check_inputs(op, in);
  const Shape shape = op.shape(in, attrs);

  // 2. Forward.
  out[0] = first_output(op, shape, dtype, in[0].device());
  op.forward(in, attrs, out);
  if (!is_floating(dtype)) return;  // integers and booleans have no derivatives

  // 3. Record, if some input is on the active tape. The node keeps the inputs (moved in when
  // no tangent below needs them).
  const int levels = op.jvp ? detail::tangent_depth() : 0;
  unsigned with_tangents = 0;  // bit k: some input has a tangent of level k + 1
  for (int k = 0; k < levels; ++k)
    for (const Tensor& x : in)
      if (x.impl()->tangent(k).defined()) with_tangents |= 1u << k;
  if (Tape* tape = op.vjp && recording() ? Tape::active() : nullptr) {
    bool tracked = false;
    for (const Tensor& x : in) tracked |= tape->tracks(x);
    if (tracked) tape->record(op, with_tangents ? in : std::move(in), out, attrs);
  }

  // 4. Tangents, level by level from the outermost jvp() in, if some input carries one. The JVP
  // rule of level k runs with the levels outside it on, so its ops carry their tangents
  // (forward over forward) and read the outputs' tangents already set; they are recorded like
  // any op, which is reverse over forward.
  for (int k = 0; k < levels; ++k) {
    if (!(with_tangents & (1u << k))) continue;
    TensorList tangents(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) tangents[i] = in[i].impl()->tangent(k);
    TensorList t;
    {
      detail::TangentDepth outer_levels_only(k);
      t = op.jvp(Saved{op, in, out, attrs}, tangents);
    }
    for (std::size_t j = 0; j < t.size(); ++j) {
      if (t[j].defined() && !(t[j].shape() == out[j].shape()))
        t[j] = broadcast_to(t[j], out[j].shape());
      out[j].impl()->set_tangent(k, std::move(t[j]));
    }
  }
}

}  // namespace

TensorList apply_all(const OpDef& op, TensorList in, const Attrs& attrs) {
  TensorList out(static_cast<std::size_t>(op.outputs + op.residuals));
  run(op, in, attrs, {out.data(), out.size()});
  return out;
}

Tensor apply(const OpDef& op, TensorList in, const Attrs& attrs) {
  if (op.outputs + op.residuals != 1)
    throw std::logic_error(std::string(op.name) + " has several outputs: call apply_all()");
  Tensor out;
  run(op, in, attrs, {&out, 1});
  return out;
}

}  // namespace flowtape
