// SPDX-License-Identifier: MIT
// save_checkpoint / load_checkpoint.
#include "flowtape/nn/checkpoint.hpp"

#include <stdexcept>
#include <unordered_set>

namespace flowtape::nn {
namespace {

const std::string kOptimizer = "optimizer.";
const std::string kEma = "ema.";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// The entries of `file` under `prefix`, with the prefix removed.
NamedTensors section(const NamedTensors& file, const std::string& prefix) {
  NamedTensors out;
  for (const auto& [name, t] : file)
    if (starts_with(name, prefix)) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

// Checks that `got` holds exactly the names of `expected`, with the same shapes and dtypes.
void validate(const std::string& path, const std::string& prefix, const NamedTensors& expected,
              const NamedTensors& got, const char* owner) {
  std::unordered_set<std::string> names;
  for (const auto& [name, want] : expected) {
    names.insert(name);
    const Tensor* t = find(got, name);
    const std::string who = "tensor '" + prefix + name + "'";
    if (!t) throw CheckpointError("checkpoint '" + path + "': missing " + who + " of the " + owner);
    if (!(t->shape() == want.shape()))
      throw CheckpointError("checkpoint '" + path + "': " + who + " has shape " + t->shape().str() +
                            " in the file but " + want.shape().str() + " in the " + owner);
    if (t->dtype() != want.dtype())
      throw CheckpointError("checkpoint '" + path + "': " + who + " has dtype " +
                            dtype_name(t->dtype()) + " in the file but " +
                            dtype_name(want.dtype()) + " in the " + owner);
  }
  for (const auto& [name, t] : got)
    if (!names.count(name))
      throw CheckpointError("checkpoint '" + path + "': unexpected tensor '" + prefix + name +
                            "' (not in the " + owner + ")");
}

}  // namespace

void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer,
                     const Metadata& metadata, const EMA* ema) {
  NamedTensors all = model.state_dict();
  for (const auto& [name, t] : all)
    if (starts_with(name, kOptimizer) || starts_with(name, kEma))
      throw CheckpointError("save_checkpoint: model tensor '" + name +
                            "' uses a reserved prefix (optimizer. or ema.)");
  Metadata meta = metadata;
  meta["format"] = "flowtape.checkpoint";
  if (optimizer) {
    for (auto& [name, t] : optimizer->state()) all.emplace_back(kOptimizer + name, t);
    meta["step"] = std::to_string(optimizer->steps());
  }
  if (ema)
    for (auto& [name, t] : ema->state()) all.emplace_back(name, t);  // named "ema.<i>" already
  save_safetensors(path, all, meta);
}

Metadata load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer, EMA* ema) {
  return load_checkpoint(load_safetensors(path), path, model, optimizer, ema);
}

Metadata load_checkpoint(const SafetensorsContents& file, const std::string& path, Module& model,
                         Optimizer* optimizer, EMA* ema) {
  NamedTensors model_part;
  for (const auto& [name, t] : file.tensors)
    if (!starts_with(name, kOptimizer) && !starts_with(name, kEma))
      model_part.emplace_back(name, t);

  // Validate everything, then load: a bad file changes nothing.
  validate(path, "", model.state_dict(), model_part, "model");
  const NamedTensors opt_part = section(file.tensors, kOptimizer);
  if (optimizer) validate(path, kOptimizer, optimizer->state(), opt_part, "optimizer");
  NamedTensors ema_state;  // EMA::state() names are already "ema.<i>"
  for (const auto& [name, t] : file.tensors)
    if (starts_with(name, kEma)) ema_state.emplace_back(name, t);
  if (ema) validate(path, "", ema->state(), ema_state, "EMA");

  // The optimizer first: it checks the step count's value, the one thing validate() does not,
  // and throws before writing anything.
  if (optimizer) {
    try {
      optimizer->load_state(opt_part);
    } catch (const std::invalid_argument& e) {
      throw CheckpointError("checkpoint '" + path + "': " + e.what());
    }
  }
  model.load_state_dict(model_part);
  if (ema) ema->load_state(ema_state);
  return file.metadata;
}

}  // namespace flowtape::nn
