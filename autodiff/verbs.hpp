// SPDX-License-Identifier: MIT
// The autodiff verbs, in the functional style of JAX, over the tape engine:
//
//   grad(f, x)              d f / d x for a scalar f
//   value_and_grad(f, xs)   f(xs) and its gradients in one pass
//   vjp(f, xs, u)           f(xs) and J^T u (reverse mode with a cotangent)
//   jvp(f, xs, vs)          f(xs) and J v   (forward mode)
//   hvp(f, x, v)            the Hessian-vector product H v, forward-over-reverse
// (functions of several outputs take one tangent or cotangent per output: jvp, vjp below)
//   stop_gradient(x)        x as a constant: no tape slot, no tangent
//
// Composition: called while a Tape is recording, grad/value_and_grad/vjp record their
// backward pass on that tape (create_graph), so the outer tape can differentiate the result
// (reverse-over-reverse). jvp inside a recording Tape records the tangent computation, so a
// loss built from J v can be differentiated (reverse-over-forward: the divergence losses).
// jvp(grad(f)) carries tangents through the backward pass (forward-over-reverse: hvp).
// jvp nests (forward-over-forward, up to four deep): jvp(jvp(f, ., v), x, u) = d2f[u, v].
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "flowtape/runtime/tensor.hpp"

namespace flowtape {

using Function = std::function<Tensor(const std::vector<Tensor>&)>;
using Function1 = std::function<Tensor(const Tensor&)>;
using FunctionN = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

std::pair<Tensor, std::vector<Tensor>> value_and_grad(const Function& f, const std::vector<Tensor>& xs);
std::vector<Tensor> grad(const Function& f, const std::vector<Tensor>& xs);
Tensor grad(const Function1& f, const Tensor& x);

// u must have f's output shape.
std::pair<Tensor, std::vector<Tensor>> vjp(const Function& f, const std::vector<Tensor>& xs,
                                           const Tensor& u);
Tensor vjp(const Function1& f, const Tensor& x, const Tensor& u);

// vs[i] must have xs[i]'s shape and dtype.
std::pair<Tensor, Tensor> jvp(const Function& f, const std::vector<Tensor>& xs,
                              const std::vector<Tensor>& vs);
std::pair<Tensor, Tensor> jvp(const Function1& f, const Tensor& x, const Tensor& v);

// H v for a scalar f, computed as jvp(grad(f), x, v) (forward-over-reverse).
Tensor hvp(const Function1& f, const Tensor& x, const Tensor& v);
// The same over several inputs: the blocks sum_j H_ij v_j, one per input.
std::vector<Tensor> hvp(const Function& f, const std::vector<Tensor>& xs,
                        const std::vector<Tensor>& vs);

// Functions of several outputs: jvp gives every output and its tangent; vjp takes one
// cotangent per output and gives the outputs and the gradient of sum_i <us[i], f_i> in xs.
std::pair<std::vector<Tensor>, std::vector<Tensor>> jvp(const FunctionN& f,
                                                        const std::vector<Tensor>& xs,
                                                        const std::vector<Tensor>& vs);
std::pair<std::vector<Tensor>, std::vector<Tensor>> vjp(const FunctionN& f,
                                                        const std::vector<Tensor>& xs,
                                                        const std::vector<Tensor>& us);

Tensor stop_gradient(const Tensor& x);

}  // namespace flowtape
