// SPDX-License-Identifier: MIT
// Module: the base of every layer. A module owns named parameters (tensors the optimizer
// updates), named buffers (fixed tensors that belong to the model, such as random Fourier
// frequencies: saved with it, never trained) and named child modules; names are hierarchical,
// "layers.0.weight", as in PyTorch, so checkpoints read naturally in other tools.
//
// Parameters are plain Tensors. Training watches them on a Tape, takes the gradient and lets an
// optimizer write the new values into the same buffers (in place, under NoGrad), so every
// handle to a parameter - the layer's member, parameters(), a std::function made from the
// model - sees the update. load_state_dict() writes in place for the same reason.
//
// Copying a module copies handles, like copying a Tensor: the copy shares the weights (this is
// what lets a model become a std::function that follows training). For an independent copy of
// the weights use state_dict() (deep copies) and load_state_dict() on another instance.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "flowtape/nn/named_tensors.hpp"

namespace flowtape::nn {

class Module {
 public:
  virtual ~Module() = default;

  // Parameters of this module and then of its children, depth first, in registration order;
  // a tensor registered under several names (a tied weight) once, under its first name, so
  // state_dict() saves it once and an optimizer updates it once.
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  std::int64_t num_parameters() const;  // total element count

  // Deep copies of every parameter and buffer, parameters first.
  NamedTensors state_dict() const;
  // Writes `state` into the parameters and buffers in place. Every name must be present with
  // the same shape and dtype, and no name may be extra; errors name the tensor and both shapes.
  void load_state_dict(const NamedTensors& state);

 protected:
  // Registers and returns the handle; the layer keeps a copy of the handle as its member.
  // A name must be non-empty and not yet used by this module, a child defined
  // (std::invalid_argument otherwise).
  Tensor register_parameter(std::string name, Tensor t);
  Tensor register_buffer(std::string name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> m) {
    if (!m) throw std::invalid_argument("register_module: the module '" + name + "' is null");
    claim_name(name);
    children_.emplace_back(std::move(name), m);
    return m;
  }

 private:
  void claim_name(const std::string& name) const;
  void collect(const std::string& prefix, bool buffers, NamedTensors& out) const;

  NamedTensors params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace flowtape::nn
