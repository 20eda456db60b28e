// SPDX-License-Identifier: MIT
// The autodiff verbs. The reverse-mode ones share reverse(): on a fresh tape when none is
// recording, or on the active tape with create_graph (then only the nodes recorded after the
// call began are walked, and the leaves are identity copies that stay connected to the
// caller's tensors, so the outer tape can differentiate through the result).
#include "flowtape/autodiff/verbs.hpp"

#include <optional>
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"
#include "flowtape/runtime/object_pool.hpp"

namespace flowtape {
namespace {

// A new handle to x's buffer and tangents, not tracked on any tape.
Tensor fresh_leaf(const Tensor& x) {
  auto impl = detail::make_pooled<TensorImpl>(*x.impl());
  impl->tape_id = 0;
  impl->slot = -1;
  return Tensor(std::move(impl));
}

// f(xs) and the gradient of sum_i <seeds[i], f_i(xs)> in xs; an undefined seed stands for
// ones (a scalar output's gradient).
// (F returns a Tensor or a std::vector<Tensor>; the outputs are held in a TensorList, which
// makes no heap call for a few of them.)
template <class F>
std::pair<TensorList, std::vector<Tensor>> reverse(const F& f, const std::vector<Tensor>& xs,
                                                   TensorList seeds, const char* verb) {
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (!xs[i].defined())
      throw std::invalid_argument(std::string(verb) + ": argument " + std::to_string(i) +
                                  " is undefined");
  std::vector<Tensor> leaves;
  Tape* outer = Tape::active();
  // Whether the caller's tape is recording: if so, the gradient is recorded on it too.
  const bool was_recording = recording();
  // The verbs are transformations of f, like jax.grad: they differentiate f even inside NoGrad
  // (which stops recording on the caller's tapes, not here), as jvp does; otherwise nothing
  // would be recorded and every gradient would silently be zero.
  detail::RecordingScope on(true);
  const auto walk = [&](Tape& tape, bool create_graph, std::size_t mark) {
    TensorList ys = f(leaves);
    if (ys.size() != seeds.size())
      throw std::invalid_argument(std::string(verb) + ": f returned " + std::to_string(ys.size()) +
                                  " outputs for " + std::to_string(seeds.size()) + " cotangents");
    for (std::size_t i = 0; i < ys.size(); ++i) {
      if (!ys[i].defined())
        throw std::invalid_argument(std::string(verb) + ": output " + std::to_string(i) +
                                    " of f is undefined");
      if (seeds[i].defined()) continue;
      if (ys[i].numel() != 1)
        throw std::invalid_argument(std::string(verb) + ": the output has shape " +
                                    ys[i].shape().str() + ", not a scalar");
      seeds[i] = ones_like(ys[i]);
    }
    auto grads = tape.gradient_from(ys, seeds, leaves, create_graph, mark);
    return std::pair{std::move(ys), std::move(grads)};
  };
  if (!outer || !was_recording) {
    // Under NoGrad the caller's tape takes nothing from this call: f is differentiated on a
    // tape of its own, the caller's set aside meanwhile, and what it returns is a constant to
    // the caller's (it was recorded there, and its gradient flowed back through it).
    std::optional<detail::ActiveTapeAside> aside;
    if (outer) aside.emplace();
    Tape tape;
    for (const Tensor& x : xs) leaves.push_back(tape.watch(fresh_leaf(x)));
    return walk(tape, false, 0);
  }
  // Nested inside a recording tape: record everything there.
  const std::size_t mark = outer->num_nodes();
  for (const Tensor& x : xs)
    leaves.push_back(outer->tracks(x) ? identity(x) : outer->watch(fresh_leaf(x)));
  return walk(*outer, was_recording, mark);
}

// The single-output form.
std::pair<Tensor, std::vector<Tensor>> reverse(const Function& f, const std::vector<Tensor>& xs,
                                               const Tensor& seed, const char* verb) {
  auto [ys, grads] = reverse(f, xs, TensorList(seed), verb);
  return {std::move(ys[0]), std::move(grads)};
}

// f(xs) and the tangents of its outputs along vs (F as for reverse).
template <class F>
std::pair<TensorList, TensorList> forward(const F& f, const std::vector<Tensor>& xs,
                                          const std::vector<Tensor>& vs) {
  if (xs.size() != vs.size())
    throw std::invalid_argument("jvp: " + std::to_string(xs.size()) + " primals but " +
                                std::to_string(vs.size()) + " tangents");
  detail::ForwardModeScope scope;
  const int level = scope.depth - 1;
  std::vector<Tensor> primals;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].defined() || !vs[i].defined())
      throw std::invalid_argument("jvp: primal or tangent " + std::to_string(i) + " is undefined");
    if (!is_floating(xs[i].dtype()))
      throw std::invalid_argument("jvp: primal " + std::to_string(i) + " " + xs[i].str() +
                                  " is not floating-point; only f32 and f64 tensors have tangents");
    if (!(xs[i].shape() == vs[i].shape()) || xs[i].dtype() != vs[i].dtype() ||
        xs[i].device() != vs[i].device())
      throw std::invalid_argument("jvp: tangent " + std::to_string(i) + " " + vs[i].str() +
                                  " does not match its primal " + xs[i].str() +
                                  " (shape, dtype and device)");
    // A new handle to x, recorded as identity(x) where x is on the active tape (reverse mode
    // still reaches x through it) and carrying x's tangents of outer jvp() calls; this jvp's
    // tangent goes on it, not on the caller's tensor.
    Tensor p = identity(xs[i]);
    p.impl()->set_tangent(level, vs[i]);
    primals.push_back(std::move(p));
  }
  TensorList ys = f(primals);
  TensorList dys(ys.size());
  for (std::size_t i = 0; i < ys.size(); ++i) {
    if (!ys[i].defined())
      throw std::invalid_argument("jvp: output " + std::to_string(i) + " of f is undefined");
    const Tensor& dy = ys[i].impl()->tangent(level);
    dys[i] = dy.defined() ? dy : zeros_like(ys[i]);
    // The value without this call's tangents. An alias keeps the slot of a tensor an op made
    // on the active tape; a watched tensor returned as it is (its slot lives in the tape, not
    // in the copy) goes out through identity, with the outer levels' tangents only.
    Tensor value = alias(ys[i], scope.depth);
    if (Tape* tape = Tape::active(); tape && tape->tracks(ys[i]) && !tape->tracks(value)) {
      detail::TangentDepth outer_levels_only(scope.depth - 1);
      value = identity(ys[i]);
    }
    ys[i] = std::move(value);
  }
  return {std::move(ys), std::move(dys)};
}

std::vector<Tensor> to_vector(const TensorList& list) {
  return {list.begin(), list.end()};
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

std::pair<std::vector<Tensor>, std::vector<Tensor>> jvp(const FunctionN& f,
                                                        const std::vector<Tensor>& xs,
                                                        const std::vector<Tensor>& vs) {
  auto [ys, dys] = forward(f, xs, vs);
  return {to_vector(ys), to_vector(dys)};
}

std::pair<Tensor, Tensor> jvp(const Function& f, const std::vector<Tensor>& xs,
                              const std::vector<Tensor>& vs) {
  auto [ys, dys] = forward(f, xs, vs);
  return {std::move(ys[0]), std::move(dys[0])};
}

std::pair<Tensor, Tensor> jvp(const Function1& f, const Tensor& x, const Tensor& v) {
  return jvp(lift(f), {x}, {v});
}

Tensor hvp(const Function1& f, const Tensor& x, const Tensor& v) {
  return jvp([&f](const Tensor& z) { return grad(f, z); }, x, v).second;
}

std::pair<std::vector<Tensor>, std::vector<Tensor>> vjp(const FunctionN& f,
                                                        const std::vector<Tensor>& xs,
                                                        const std::vector<Tensor>& us) {
  for (std::size_t i = 0; i < us.size(); ++i)
    if (!us[i].defined())
      throw std::invalid_argument("vjp: cotangent " + std::to_string(i) + " is undefined");
  auto [ys, grads] = reverse(f, xs, TensorList(us), "vjp");
  return {to_vector(ys), std::move(grads)};
}

std::vector<Tensor> hvp(const Function& f, const std::vector<Tensor>& xs,
                        const std::vector<Tensor>& vs) {
  const FunctionN gradient = [&f](const std::vector<Tensor>& zs) { return grad(f, zs); };
  return jvp(gradient, xs, vs).second;
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
