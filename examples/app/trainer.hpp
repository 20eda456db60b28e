// SPDX-License-Identifier: MIT
// Trainer: one flow-matching training run as configured by a TrainConfig: data, coupling,
// path, objective (CFM, risk-entropic, FDM, EFM), a VelocityMLP and Adam(W) with a learning
// rate schedule. It is what the `flowtape train` command and the example programs run.
//
// Reliability contract:
//   - A non-finite loss or gradient stops training with a TrainingError naming the step and
//     the quantity (the loss, or the gradient of a named parameter). The bad update is not
//     applied, and the last checkpoint written stays as it was.
//   - save() refuses (TrainingError) weights that are not all finite, so a checkpoint on disk
//     is always a usable one.
//   - Checkpoints are written atomically (temp file + rename, by nn::save_checkpoint) and hold
//     the model, the optimizer, the generator's state, the step and the config, so resume()
//     continues bit-identically to a run that was never interrupted.
//   - Seeded: the same config gives the same weights on the same machine.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "examples/app/config.hpp"
#include "flowtape/flows/datasets.hpp"
#include "flowtape/flows/path.hpp"
#include "flowtape/flows/velocity.hpp"
#include "flowtape/nn/nn.hpp"

namespace flowtape::app {

class TrainingError : public std::runtime_error {
 public:
  TrainingError(const std::string& what, std::int64_t step)
      : std::runtime_error(what), step_(step) {}
  std::int64_t step() const { return step_; }

 private:
  std::int64_t step_;
};

struct StepReport {
  std::int64_t step;  // 1-based: the number of updates taken
  double loss;
  double lambda;  // the entropic lambda of this step (0 for other losses)
  double lr;
  // FDM's two terms, loss = cfm + fdm_weight * divergence (NaN for the other losses).
  double cfm = std::numeric_limits<double>::quiet_NaN();
  double divergence = std::numeric_limits<double>::quiet_NaN();
  double grad_norm = 0;  // the gradient's global 2-norm, before clipping
};

// The TrainConfig recorded in a checkpoint written by Trainer::save. Throws
// std::invalid_argument naming the file when it has no config or an unreadable one (and
// nn::CheckpointError when the file itself is bad).
TrainConfig config_from_checkpoint(const std::string& checkpoint_path);
// The same from a file already read (one read serves the config and resume(), so a checkpoint
// given as a pipe works). Also refuses a config whose model could not fit the file's values.
TrainConfig config_from_checkpoint(const nn::SafetensorsContents& file, const std::string& source);

class Trainer {
 public:
  explicit Trainer(TrainConfig config);

  // Restores a checkpoint written by save(): model, optimizer, generator and step. The file's
  // config must match this one except for `steps` (a run may be extended).
  void resume(const std::string& checkpoint_path);
  void resume(const nn::SafetensorsContents& file, const std::string& checkpoint_path);

  // Trains up to config().steps. After every step, on_step (if set). With a checkpoint path,
  // saves there every checkpoint_every steps (if > 0) and at the end.
  void train(const std::function<void(const StepReport&)>& on_step = {},
             const std::string& checkpoint_path = "");
  // One step; returns its report. Throws TrainingError on a non-finite loss or gradient.
  StepReport step();

  void save(const std::string& path) const;
  // The model's architecture as a checkpoint records it (metadata key "architecture"): the
  // model kind, sizes, activation and time embedding, how the forward pass composes them, and
  // every parameter's name and shape, so another framework can rebuild the model to load it.
  nlohmann::json architecture() const;

  const TrainConfig& config() const { return config_; }
  std::int64_t steps_done() const { return optimizer_->steps(); }
  nn::VelocityMLP& model() { return *model_; }
  // The model as a velocity field. With device 'cuda' it takes and returns host tensors (and
  // passes device tensors through), so evaluation code needs no device handling.
  flows::VelocityField field() const;
  Device device() const { return device_; }
  const flows::Dataset& dataset() const { return *dataset_; }
  const flows::Path& path() const { return path_; }
  // The fixed training set (targets, and sources for coupling 'fixed'); empty without one.
  const Tensor& train_targets() const { return train_x1_; }
  const Tensor& train_sources() const { return train_x0_; }
  double lambda_at(std::int64_t step) const;

 private:
  Tensor batch_targets(std::int64_t b);
  Tensor loss_for(const Tensor& x0, const Tensor& x1, const Tensor& t, double lambda);
  // Reads the step's scalars (in one transfer from a device) into `report` (loss, its FDM
  // parts, the gradient norm); throws TrainingError on a non-finite loss or gradient.
  void read_step(const Tensor& loss, const std::vector<Tensor>& grads, StepReport& report) const;

  TrainConfig config_;
  std::unique_ptr<flows::Dataset> dataset_;
  flows::Path path_;
  Device device_;
  Generator gen_;  // batches, times, noise, probes: the only stream that moves during training
  Tensor train_x0_, train_x1_;
  std::shared_ptr<nn::VelocityMLP> model_;
  std::unique_ptr<nn::Optimizer> optimizer_;
  nn::Schedule schedule_;
  Tensor last_cfm_, last_divergence_;  // the FDM terms of the step being taken
};

}  // namespace flowtape::app
