// SPDX-License-Identifier: MIT
// Module: hierarchical names, state_dict and its validated, in-place loading.
#include "flowtape/nn/module.hpp"

#include <stdexcept>
#include <unordered_set>

namespace flowtape::nn {

void Module::collect(const std::string& prefix, bool buffers, NamedTensors& out) const {
  for (const auto& [name, t] : buffers ? buffers_ : params_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", buffers, out);
}

namespace {
// A tensor registered twice (a tied weight: one child under two names, or one handle
// registered in two layers) is listed once, under its first name, as PyTorch's
// named_parameters() does: an optimizer given it twice would apply two updates per step.
NamedTensors first_of_each(NamedTensors all) {
  NamedTensors out;
  std::unordered_set<const TensorImpl*> seen;
  for (auto& [name, t] : all)
    if (seen.insert(t.impl()).second) out.emplace_back(std::move(name), std::move(t));
  return out;
}
}  // namespace

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", false, out);
  return first_of_each(std::move(out));
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", true, out);
  return first_of_each(std::move(out));
}

std::int64_t Module::num_parameters() const {
  std::int64_t n = 0;
  for (const auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  for (const auto& [name, t] : named_parameters()) out.emplace_back(name, copy(t));
  for (const auto& [name, t] : named_buffers()) out.emplace_back(name, copy(t));
  return out;
}

void Module::load_state_dict(const NamedTensors& state) {
  NamedTensors mine = named_parameters();
  for (auto& b : named_buffers()) mine.push_back(b);
  // Validate everything first, so a bad state leaves the module untouched.
  std::unordered_set<std::string> seen;
  for (const auto& [name, t] : mine)
    if (!seen.insert(name).second)
      throw std::logic_error("load_state_dict: the module holds two tensors named '" + name +
                             "' (a parameter named like a child's)");
  for (const auto& [name, t] : mine) {
    const Tensor* src = find(state, name);
    if (!src) throw std::invalid_argument("load_state_dict: missing tensor '" + name + "'");
    if (!(src->shape() == t.shape()))
      throw std::invalid_argument("load_state_dict: tensor '" + name + "' has shape " +
                                  src->shape().str() + " but the model expects " + t.shape().str());
    if (src->dtype() != t.dtype())
      throw std::invalid_argument("load_state_dict: tensor '" + name + "' has dtype " +
                                  dtype_name(src->dtype()) + " but the model expects " +
                                  dtype_name(t.dtype()));
  }
  // The names a state may hold: every registered one, so the other names of a tensor registered
  // twice (a tied weight, saved under each name before named_parameters() listed it once) are
  // accepted and not read: the first name's is loaded.
  NamedTensors every;
  collect("", false, every);
  collect("", true, every);
  std::unordered_set<std::string> known;
  for (const auto& [name, t] : every) known.insert(name);
  for (const auto& [name, t] : state)
    if (!known.count(name))
      throw std::invalid_argument("load_state_dict: unexpected tensor '" + name + "'");
  for (auto& [name, t] : mine) copy_into(t, *find(state, name));
}

void Module::claim_name(const std::string& name) const {
  bool taken = name.empty();
  for (const auto& [own, t] : params_) taken = taken || own == name;
  for (const auto& [own, t] : buffers_) taken = taken || own == name;
  for (const auto& [own, child] : children_) taken = taken || own == name;
  if (taken)
    throw std::invalid_argument("register: the name '" + name +
                                "' is empty or already used in this module");
}

Tensor Module::register_parameter(std::string name, Tensor t) {
  claim_name(name);
  params_.emplace_back(std::move(name), t);
  return t;
}

Tensor Module::register_buffer(std::string name, Tensor t) {
  claim_name(name);
  buffers_.emplace_back(std::move(name), t);
  return t;
}

}  // namespace flowtape::nn
