// SPDX-License-Identifier: MIT
// Optimizers over a list of parameter tensors: SGD (momentum, Nesterov, weight decay), Adam and
// AdamW, with PyTorch's update rules and defaults. step(grads) writes the new values into the
// parameters' buffers in place (one fused loop per tensor over the raw f32/f64 data: the hot
// path of training), so the model sees them with no copy.
//
// The state - the step count and each per-parameter buffer - is exposed as named tensors
// ("step", "exp_avg.0", "exp_avg_sq.0", "momentum_buffer.0", ... indexed like the parameter
// list) so a checkpoint restores it exactly. Buffers start at zero, which for SGD without
// dampening gives PyTorch's "first buffer = first gradient".
//
// Typical step:
//   Tape tape; tape.watch(params);
//   Tensor loss = ...;
//   opt.step(tape.gradient(loss, params));
// Do not call gradient() on the same tape after step(): the tape saved the old values.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "flowtape/nn/named_tensors.hpp"

namespace flowtape::nn {

class Optimizer {
 public:
  // Each parameter once: a tensor listed twice is refused (it would be updated twice a step).
  Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;  // buffers are referenced by the subclasses
  Optimizer& operator=(const Optimizer&) = delete;

  // One update. grads[i] must match params[i] in shape and dtype.
  void step(const std::vector<Tensor>& grads);

  double lr() const { return lr_; }
  // e.g. from a schedule, before step(); finite and >= 0 (std::invalid_argument otherwise).
  void set_lr(double lr);
  std::int64_t steps() const { return steps_; }
  const std::vector<Tensor>& params() const { return params_; }

  // Deep copies of the step count ("step", an f64 scalar) and every buffer.
  NamedTensors state() const;
  // Restores state() output: every name must be there with the right shape and dtype, and
  // every value finite (non-negative where the buffer holds squares); nothing is written
  // unless all of it is.
  void load_state(const NamedTensors& state);

 protected:
  // Registers a zero buffer per parameter, named "<kind>.<index>"; `non_negative` where its
  // values can only be >= 0 (Adam's second moments), which load_state then checks.
  std::vector<Tensor>& add_buffers(const std::string& kind, bool non_negative = false);
  // Updates params_[i] from g; steps_ already counts this step.
  virtual void update(std::size_t i, const Tensor& g) = 0;

  std::vector<Tensor> params_;
  double lr_;
  std::int64_t steps_ = 0;

 private:
  struct Buffers {
    std::string kind;
    std::vector<Tensor> tensors;
    bool non_negative;
  };
  std::deque<Buffers> buffers_;  // stable references
};

// Every number finite, lr, momentum and weight_decay >= 0.
struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0.0;
  bool nesterov = false;      // needs momentum > 0
  double weight_decay = 0.0;  // L2: added to the gradient
};

class SGD : public Optimizer {
 public:
  explicit SGD(std::vector<Tensor> params, const SGDOptions& options = {});

 private:
  void update(std::size_t i, const Tensor& g) override;
  SGDOptions o_;
  std::vector<Tensor>* momentum_ = nullptr;
};

// Every number finite: lr >= 0, betas in [0, 1), eps > 0 (a zero gradient at the first step
// would give 0 / 0), weight_decay >= 0.
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // Adam: L2 added to the gradient; AdamW: decoupled
};

// Adam (Kingma & Ba) with bias correction, as torch.optim.Adam.
class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Tensor> params, const AdamOptions& options = {});

 protected:
  Adam(std::vector<Tensor> params, const AdamOptions& options, bool decoupled);

 private:
  void update(std::size_t i, const Tensor& g) override;
  AdamOptions o_;
  bool decoupled_;
  std::vector<Tensor>* exp_avg_;
  std::vector<Tensor>* exp_avg_sq_;
};

// AdamW (Loshchilov & Hutter): p *= 1 - lr * weight_decay, then the Adam step without L2, as
// torch.optim.AdamW (default weight_decay 1e-2).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
};

}  // namespace flowtape::nn
