// SPDX-License-Identifier: MIT
// EMA of weights.
#include "flowtape/nn/ema.hpp"

#include <stdexcept>
#include <string>

#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/runtime/backend.hpp"

namespace flowtape::nn {

EMA::EMA(const std::vector<Tensor>& params, double decay) : decay_(decay) {
  if (!(decay >= 0 && decay <= 1)) throw std::invalid_argument("EMA: decay must lie in [0, 1]");
  for (const Tensor& p : params) shadow_.push_back(copy(p));
}

void EMA::check(const std::vector<Tensor>& params, const char* who) const {
  if (params.size() != shadow_.size())
    throw std::invalid_argument(std::string("EMA::") + who + ": " + std::to_string(params.size()) +
                                " tensors, the average has " + std::to_string(shadow_.size()));
  for (std::size_t i = 0; i < params.size(); ++i)
    if (!(params[i].shape() == shadow_[i].shape()) || params[i].dtype() != shadow_[i].dtype())
      throw std::invalid_argument(std::string("EMA::") + who + ": tensor " + std::to_string(i) +
                                  " is " + params[i].str() + ", the average is " +
                                  shadow_[i].str());
}

void EMA::update(const std::vector<Tensor>& params) {
  check(params, "update");
  // The average follows parameters moved after it was made (nn::to_device moves them in
  // place), as the optimizers' state does: the update kernel reads both from one device.
  for (std::size_t i = 0; i < params.size(); ++i)
    if (shadow_[i].device() != params[i].device()) relocate(shadow_[i], params[i].device());
  for (std::size_t i = 0; i < params.size(); ++i)
    backend_of(params[i]).ema_update(shadow_[i], params[i], decay_);
}

void EMA::copy_to(const std::vector<Tensor>& params) const {
  check(params, "copy_to");
  for (std::size_t i = 0; i < params.size(); ++i) {
    Tensor dst = params[i];  // a handle to the same buffer
    copy_into(dst, shadow_[i].device() == dst.device() ? shadow_[i] : shadow_[i].to(dst.device()));
  }
}

NamedTensors EMA::state() const {
  NamedTensors out;
  for (std::size_t i = 0; i < shadow_.size(); ++i)
    out.emplace_back("ema." + std::to_string(i), copy(shadow_[i]));
  return out;
}

void EMA::load_state(const NamedTensors& state) {
  // Exactly ema.0 ... ema.{n-1}: a state with more is another model's average, not ours.
  if (state.size() != shadow_.size())
    throw std::invalid_argument("EMA state: " + std::to_string(state.size()) +
                                " tensors, the average has " + std::to_string(shadow_.size()));
  for (std::size_t i = 0; i < shadow_.size(); ++i) {
    const std::string name = "ema." + std::to_string(i);
    const Tensor* t = find(state, name);
    if (!t) throw std::invalid_argument("EMA state: missing tensor '" + name + "'");
    if (!(t->shape() == shadow_[i].shape()) || t->dtype() != shadow_[i].dtype())
      throw std::invalid_argument("EMA state: tensor '" + name + "' is " + t->str() +
                                  ", expected " + shadow_[i].str());
  }
  for (std::size_t i = 0; i < shadow_.size(); ++i)
    copy_into(shadow_[i], *find(state, "ema." + std::to_string(i)));
}

}  // namespace flowtape::nn
