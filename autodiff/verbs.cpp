// SPDX-License-Identifier: MIT
// The autodiff verbs. The reverse-mode ones share reverse(): on a fresh tape when none is
// recording, or on the active tape with create_graph (then only the nodes recorded after the
// call began are walked, and the leaves are identity copies that stay connected to the
// caller's tensors, so the outer tape can differentiate through the result).
#include "flowtape/autodiff/verbs.hpp"

#include <stdexcept>
#include <string>

#include "flowtape/autodiff/object_pool.hpp"
#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"

namespace flowtape {
namespace {

// A new handle to x's buffer and tangents, not tracked on any tape.
Tensor fresh_leaf(const Tensor& x) {
  auto impl = detail::make_pooled<TensorImpl>(*x.impl());
  impl->tape_id = 0;
  impl->slot = -1;
  return Tensor(std::move(impl));
}

std::pair<Tensor, std::vector<Tensor>> reverse(const Function& f, const std::vector<Tensor>& xs,
                                               const Tensor& seed, const char* verb) {
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (!xs[i].defined())
      throw std::invalid_argument(std::string(verb) + ": argument " + std::to_string(i) + " is undefined");
  GradientOptions options;
  options.seed = seed;
  std::vector<Tensor> leaves;
  Tape* outer = Tape::active();
  // Whether the caller's tape is recording: if so, the gradient is recorded on it too.
  const bool was_recording = recording();
  // The verbs are transformations of f, like jax.grad: they differentiate f even inside NoGrad
  // (which stops recording on the caller's tapes, not here), as jvp does; otherwise nothing
  // would be recorded and every gradient would silently be zero.
  detail::RecordingScope on(true);
  if (!outer) {
    Tape tape;
    for (const Tensor& x : xs) leaves.push_back(tape.watch(fresh_leaf(x)));
    Tensor y = f(leaves);
    auto grads = tape.gradient(y, leaves, options);
    return {y, grads};
  }
  // Nested inside an active tape: record everything there.
  const std::size_t mark = outer->num_nodes();
  for (const Tensor& x : xs)
    leaves.push_back(outer->tracks(x) ? identity(x) : outer->watch(fresh_leaf(x)));
  Tensor y = f(leaves);
  options.create_graph = was_recording;
  auto grads = outer->gradient_from(y, leaves, options, mark);
  return {y, grads};
}

Function lift(const Function1& f) {
  return [f](const std::vector<Tensor>& xs) { return f(xs[0]); };
}

}  // namespace

std::pair<Tensor, std::vector<Tensor>> value_and_grad(const Function& f, const std::vector<Tensor>& xs) {
  return reverse(f, xs, Tensor(), "value_and_grad");
}

std::vector<Tensor> grad(const Function& f, const std::vector<Tensor>& xs) {
  return reverse(f, xs, Tensor(), "grad").second;
}

Tensor grad(const Function1& f, const Tensor& x) { return reverse(lift(f), {x}, Tensor(), "grad").second[0]; }

std::pair<Tensor, std::vector<Tensor>> vjp(const Function& f, const std::vector<Tensor>& xs,
                                           const Tensor& u) {
  if (!u.defined()) throw std::invalid_argument("vjp: the cotangent u is undefined");
  return reverse(f, xs, u, "vjp");
}

Tensor vjp(const Function1& f, const Tensor& x, const Tensor& u) {
  return vjp(lift(f), {x}, u).second[0];
}

std::pair<Tensor, Tensor> jvp(const Function& f, const std::vector<Tensor>& xs,
                              const std::vector<Tensor>& vs) {
  if (xs.size() != vs.size())
    throw std::invalid_argument("jvp: " + std::to_string(xs.size()) + " primals but " +
                                std::to_string(vs.size()) + " tangents");
  detail::ForwardModeScope scope;
  const auto level = static_cast<std::size_t>(scope.depth - 1);
  std::vector<Tensor> primals;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].defined() || !vs[i].defined())
      throw std::invalid_argument("jvp: primal or tangent " + std::to_string(i) + " is undefined");
    if (!(xs[i].shape() == vs[i].shape()) || xs[i].dtype() != vs[i].dtype())
      throw std::invalid_argument("jvp: tangent " + std::to_string(i) + " " + vs[i].str() +
                                  " does not match its primal " + xs[i].str());
    // A new handle to x, recorded as identity(x) where x is on the active tape (reverse mode
    // still reaches x through it) and carrying x's tangents of outer jvp() calls; this jvp's
    // tangent goes on it, not on the caller's tensor.
    Tensor p = identity(xs[i]);
    p.impl()->tangents[level] = vs[i];
    primals.push_back(std::move(p));
  }
  Tensor y = f(primals);
  Tensor dy = y.impl()->tangents[level];
  if (!dy.defined()) dy = zeros_like(y);
  return {alias(y, scope.depth), dy};
}

std::pair<Tensor, Tensor> jvp(const Function1& f, const Tensor& x, const Tensor& v) {
  return jvp(lift(f), {x}, {v});
}

Tensor hvp(const Function1& f, const Tensor& x, const Tensor& v) {
  return jvp([&f](const Tensor& z) { return grad(f, z); }, x, v).second;
}

Tensor stop_gradient(const Tensor& x) {
  auto impl = detail::make_pooled<TensorImpl>();
  impl->shape = x.shape();
  impl->dtype = x.dtype();
  impl->device = x.device();
  impl->storage = x.impl()->storage;
  return Tensor(std::move(impl));
}

}  // namespace flowtape
