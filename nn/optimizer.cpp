// SPDX-License-Identifier: MIT
// Optimizer state handling and the SGD / Adam / AdamW updates (each one fused loop, run by
// the parameters' backend: runtime/backend.hpp).
#include "flowtape/nn/optimizer.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "flowtape/autodiff/tape.hpp"
#include "flowtape/runtime/backend.hpp"

namespace flowtape::nn {

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].defined())
      throw std::invalid_argument("optimizer: parameter " + std::to_string(i) + " is undefined");
    if (params_[i].device() != params_[0].device())
      throw std::invalid_argument("optimizer: parameter " + std::to_string(i) + " is on " +
                                  device_name(params_[i].device()) + ", parameter 0 on " +
                                  device_name(params_[0].device()));
    for (std::size_t j = 0; j < i; ++j)
      if (params_[j].impl() == params_[i].impl())
        throw std::invalid_argument("optimizer: parameter " + std::to_string(i) + " is parameter " +
                                    std::to_string(j) +
                                    " again; each would be updated twice a step");
  }
  set_lr(lr);
}

std::vector<Tensor>& Optimizer::add_buffers(const std::string& kind, bool non_negative) {
  std::vector<Tensor> bufs;
  for (const Tensor& p : params_) bufs.push_back(zeros_like(p));
  buffers_.push_back({kind, std::move(bufs), non_negative});
  return buffers_.back().tensors;
}

namespace {
// "tensor 'NAME' holds VALUE at flat index I; ..." for t's first value that is not finite (or
// is negative, when non_negative), or "" when there is none.
std::string first_bad_value(const std::string& name, const Tensor& t, bool non_negative) {
  const Tensor host = copy(to_host(t));  // contiguous
  return dispatch(host.dtype(), [&]<class T>() -> std::string {
    const T* p = host.data<T>();
    for (std::int64_t i = 0, n = host.numel(); i < n; ++i)
      if (!std::isfinite(p[i]) || (non_negative && p[i] < T(0))) {
        std::ostringstream m;
        m << "optimizer state: tensor '" << name << "' holds " << p[i] << " at flat index " << i
          << "; expected " << (non_negative ? "finite values >= 0" : "finite values");
        return m.str();
      }
    return {};
  });
}
}  // namespace

void Optimizer::step(const std::vector<Tensor>& grads) {
  if (grads.size() != params_.size())
    throw std::invalid_argument("optimizer step: " + std::to_string(grads.size()) +
                                " gradients for " + std::to_string(params_.size()) + " parameters");
  for (std::size_t i = 0; i < grads.size(); ++i)
    if (!grads[i].defined() || !(grads[i].shape() == params_[i].shape()) ||
        grads[i].dtype() != params_[i].dtype() || grads[i].device() != params_[i].device())
      throw std::invalid_argument("optimizer step: gradient " + std::to_string(i) + " (" +
                                  (grads[i].defined() ? grads[i].str() : "undefined") +
                                  ") does not match its parameter " + params_[i].str());
  // The state follows parameters moved after the optimizer was made (nn::to_device moves
  // them in place): the update kernels read both from one device.
  for (auto& [kind, bufs, non_negative] : buffers_)
    for (std::size_t i = 0; i < bufs.size(); ++i)
      if (bufs[i].device() != params_[i].device()) relocate(bufs[i], params_[i].device());
  NoGrad no_grad;
  ++steps_;
  for (std::size_t i = 0; i < params_.size(); ++i) update(i, grads[i]);
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  out.emplace_back("step", scalar(static_cast<double>(steps_), DType::f64));
  for (const auto& [kind, bufs, non_negative] : buffers_)
    for (std::size_t i = 0; i < bufs.size(); ++i)
      out.emplace_back(kind + "." + std::to_string(i), copy(bufs[i]));
  return out;
}

void Optimizer::load_state(const NamedTensors& state) {
  std::size_t expected = 1;
  const Tensor* step = find(state, "step");
  if (!step || step->numel() != 1)
    throw std::invalid_argument("optimizer state: missing or malformed 'step'");
  // The count comes from a file: anything but a whole number in [0, 2^53] is refused here, as
  // converting NaN or an out-of-range double to an integer is undefined behaviour.
  const double step_value = step->item();
  if (!(step_value >= 0 && step_value <= 9007199254740992.0) ||
      step_value != std::floor(step_value)) {
    std::ostringstream m;
    m << "optimizer state: 'step' is " << step_value << ", not a step count";
    throw std::invalid_argument(m.str());
  }
  for (const auto& [kind, bufs, non_negative] : buffers_)
    for (std::size_t i = 0; i < bufs.size(); ++i, ++expected) {
      const std::string name = kind + "." + std::to_string(i);
      const Tensor* t = find(state, name);
      if (!t) throw std::invalid_argument("optimizer state: missing tensor '" + name + "'");
      if (!(t->shape() == bufs[i].shape()) || t->dtype() != bufs[i].dtype())
        throw std::invalid_argument("optimizer state: tensor '" + name + "' is " + t->str() +
                                    " but the optimizer expects " + bufs[i].str());
      // A corrupt moment would turn its parameter into NaN at the first step, far from here.
      if (const std::string bad = first_bad_value(name, *t, non_negative); !bad.empty())
        throw std::invalid_argument(bad);
    }
  if (state.size() != expected)
    throw std::invalid_argument("optimizer state: " + std::to_string(state.size()) +
                                " tensors, expected " + std::to_string(expected));
  for (auto& [kind, bufs, non_negative] : buffers_)
    for (std::size_t i = 0; i < bufs.size(); ++i)
      copy_into(bufs[i], *find(state, kind + "." + std::to_string(i)));
  steps_ = static_cast<std::int64_t>(step_value);
}

namespace {
void require_finite_non_negative(double v, const char* what) {
  if (!(std::isfinite(v) && v >= 0))
    throw std::invalid_argument(std::string(what) + " must be finite and >= 0, got " +
                                std::to_string(v));
}
}  // namespace

void Optimizer::set_lr(double lr) {
  require_finite_non_negative(lr, "optimizer: the learning rate");
  lr_ = lr;
}

// --- SGD ------------------------------------------------------------------------------------

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options)
    : Optimizer(std::move(params), options.lr), o_(options) {
  require_finite_non_negative(o_.momentum, "SGD: momentum");
  require_finite_non_negative(o_.weight_decay, "SGD: weight_decay");
  if (o_.nesterov && o_.momentum <= 0)
    throw std::invalid_argument("SGD: Nesterov momentum requires momentum > 0");
  if (o_.momentum != 0) momentum_ = &add_buffers("momentum_buffer");
}

void SGD::update(std::size_t i, const Tensor& grad) {
  Tensor& param = params_[i];
  backend_of(param).sgd_update(param, grad, momentum_ ? &(*momentum_)[i] : nullptr, lr_,
                               o_.weight_decay, o_.momentum, o_.nesterov);
}

// --- Adam / AdamW -----------------------------------------------------------------------------

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : Adam(std::move(params), options, false) {}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options, bool decoupled)
    : Optimizer(std::move(params), options.lr), o_(options), decoupled_(decoupled) {
  if (!(o_.beta1 >= 0 && o_.beta1 < 1) || !(o_.beta2 >= 0 && o_.beta2 < 1))
    throw std::invalid_argument("Adam: betas must lie in [0, 1), got (" + std::to_string(o_.beta1) +
                                ", " + std::to_string(o_.beta2) + ")");
  require_finite_non_negative(o_.weight_decay, "Adam: weight_decay");
  if (!(std::isfinite(o_.eps) && o_.eps > 0))
    throw std::invalid_argument("Adam: eps must be finite and > 0, got " + std::to_string(o_.eps));
  exp_avg_ = &add_buffers("exp_avg");
  exp_avg_sq_ = &add_buffers("exp_avg_sq", /*non_negative=*/true);
}

void Adam::update(std::size_t i, const Tensor& grad) {
  Tensor& param = params_[i];
  // The scalar factors in double, as PyTorch computes them on the host.
  const double t = static_cast<double>(steps_);
  const double bc1 = 1 - std::pow(o_.beta1, t), bc2 = 1 - std::pow(o_.beta2, t);
  const double step_size = lr_ / bc1, bc2_sqrt = std::sqrt(bc2);
  backend_of(param).adam_update(
      param, grad, (*exp_avg_)[i], (*exp_avg_sq_)[i],
      {o_.beta1, o_.beta2, 1 - o_.beta1, 1 - o_.beta2, decoupled_ ? 0.0 : o_.weight_decay,
       decoupled_ ? 1 - lr_ * o_.weight_decay : 1.0, step_size, bc2_sqrt, o_.eps});
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& o)
    : Adam(std::move(params), AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay}, true) {}

}  // namespace flowtape::nn
