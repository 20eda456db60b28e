// SPDX-License-Identifier: MIT
// Trainer: one flow-matching training run as a TrainSpec describes it: data, coupling, path,
// objective (CFM, risk-entropic, FDM, EFM), a velocity model and Adam(W) with a learning-rate
// schedule. The model is the built-in VelocityMLP (sized by the spec) or any module whose
// forward is v(x, t); the data is a built-in dataset (by the spec's name) or any
// flows::Dataset. train() runs the loop and calls back for logging, checkpoints, evaluation
// and stopping; the `flowtape` command and the example programs are adapters over it.
//
// Reliability contract:
//   - A non-finite loss or gradient stops training with a TrainingError naming the step and
//     the quantity (the loss, or the gradient of a named parameter). The bad update is not
//     applied, and the last checkpoint written stays as it was.
//   - save() refuses (TrainingError) weights that are not all finite, so a checkpoint on disk
//     is always a usable one.
//   - Checkpoints are written atomically (temp file + fsync + rename, by nn::save_checkpoint)
//     and hold the model, the optimizer, the generator's state, the step, the spec and the
//     model's architecture, so resume() continues bit-identically to an uninterrupted run.
//   - Seeded: the same spec (and model initialisation) gives the same weights on the same
//     machine.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "flowtape/flows/condition.hpp"
#include "flowtape/flows/datasets.hpp"
#include "flowtape/flows/losses.hpp"
#include "flowtape/flows/path.hpp"
#include "flowtape/flows/velocity.hpp"
#include "flowtape/nn/nn.hpp"
#include "flowtape/train/collective.hpp"
#include "flowtape/train/data.hpp"
#include "flowtape/train/shard_workers.hpp"
#include "flowtape/train/spec.hpp"

namespace flowtape::train {

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
  // FDM's two main terms, loss = cfm + fdm_weight * divergence (NaN for the other losses; with
  // fdm_official the loss weighs them as flows::fdm_official_options says, plus its column-sum
  // term).
  double cfm = std::numeric_limits<double>::quiet_NaN();
  double divergence = std::numeric_limits<double>::quiet_NaN();
  double grad_norm = 0;  // the gradient's global 2-norm, before clipping
};

// What a Trainer trains: a module (it owns the parameters) and its forward pass as a velocity
// field sharing those weights. VelocityModel::of(model) wraps any nn::Module with
// `Tensor operator()(const Tensor& x, const Tensor& t) const` (x [B, d], t [B, 1] -> [B, d]),
// and, for conditional training, `operator()(x, t, c)` (flows/condition.hpp).
struct VelocityModel {
  std::shared_ptr<nn::Module> module;
  flows::VelocityField forward;
  flows::ConditionalField conditional;  // empty for an unconditional model
  // JSON recorded in checkpoints under "architecture" so other tools can rebuild the model;
  // empty: none recorded.
  std::string architecture;

  template <class M>
  requires std::derived_from<M, nn::Module> &&
      std::invocable<const M&, const Tensor&, const Tensor&>
  static VelocityModel of(std::shared_ptr<M> model, std::string architecture = "") {
    flows::VelocityField f = [model](const Tensor& x, const Tensor& t) { return (*model)(x, t); };
    flows::ConditionalField cf;
    if constexpr (std::invocable<const M&, const Tensor&, const Tensor&, const Tensor&>) {
      // A model that can say whether it is conditional (VelocityMLP::conditional) is asked.
      bool takes_condition = true;
      if constexpr (requires { model->conditional(); }) takes_condition = model->conditional();
      if (takes_condition)
        cf = [model](const Tensor& x, const Tensor& t, const Tensor& c) {
          return (*model)(x, t, c);
        };
    }
    return {std::move(model), std::move(f), std::move(cf), std::move(architecture)};
  }
};

// The built-in model the spec describes (VelocityMLP of its hidden, depth, activation and
// time embedding, conditioned on `condition` unless it is none), initialised from `gen`, with
// its architecture JSON.
VelocityModel velocity_mlp(const TrainSpec& spec, std::int64_t dim, Generator& gen,
                           const flows::ConditionSpec& condition = {});

class Trainer;

// What train() calls, each optional.
struct TrainCallbacks {
  // After every step: logging, progress.
  std::function<void(const StepReport&)> on_step = {};
  // Every spec.checkpoint_every steps (when > 0), and once when training ends or stops.
  std::function<void(const Trainer&)> checkpoint = {};
  // Every evaluate_every steps (when > 0): held-out metrics, samples.
  std::int64_t evaluate_every = 0;
  std::function<void(Trainer&)> evaluate = {};
  // Asked after every step; true ends training early (after the final checkpoint).
  std::function<bool()> stop = {};
};

enum class TrainOutcome { finished, stopped };

// The TrainSpec recorded in a checkpoint written by Trainer::save, from a file already read
// (one read serves the spec and resume(), so a checkpoint given as a pipe works). Throws
// std::invalid_argument naming `source` when it has no spec or an unreadable one, or when the
// built-in model it describes could not fit the file's values (checked before anything is
// allocated for it). For checkpoints of the built-in model: a user model's smaller checkpoint
// may fail that bound. Guidance its model cannot use (an older checkpoint's) comes back as 0.
TrainSpec spec_from_checkpoint(const nn::SafetensorsContents& file, const std::string& source);
TrainSpec spec_from_checkpoint(const std::string& checkpoint_path);

class Trainer {
 public:
  // The spec's data (its data file, or its built-in dataset) and a VelocityMLP sized by the
  // spec.
  explicit Trainer(TrainSpec spec);
  // Your data and your model (either may be null for the built-in one). The spec's `dataset`
  // becomes data->name(); the model moves to spec.device. With spec.conditional the data must
  // have conditions (Dataset::condition) and the model a conditional forward.
  Trainer(TrainSpec spec, std::shared_ptr<const flows::Dataset> data, VelocityModel model);

  // Restores a checkpoint written by save(): model, optimizer, generator and step. The file's
  // spec must match this one except for the step count, the schedule's horizon, the device
  // and the evaluation settings (a run may be extended, moved or evaluated differently).
  void resume(const std::string& checkpoint_path);
  void resume(const nn::SafetensorsContents& file, const std::string& checkpoint_path);

  // Data-parallel training: this trainer becomes one rank of `collective` (MPI ranks,
  // train/mpi_collective.hpp, or LocalCollective). Every rank must be built from the same spec
  // and data and resumed from the same checkpoint: this checks both (a CollectiveError on every
  // rank when they differ), so call it after resume(). The rank count must be a power of two
  // dividing spec().shards; each rank then computes its block of the shards, and the checkpoint
  // is bit-identical to a one-process run with the same shards. Each rank saves nothing by
  // itself: the caller lets one rank (0) write checkpoints and logs. Null leaves the group.
  void distribute(std::shared_ptr<Collective> collective);
  const Collective* collective() const { return collective_.get(); }

  // Trains up to spec().steps, calling back as TrainCallbacks says. Returns `stopped` when the
  // stop callback ended it early. Throws TrainingError on a non-finite loss or gradient.
  TrainOutcome train(const TrainCallbacks& callbacks = {});
  // One step; returns its report. Throws TrainingError on a non-finite loss or gradient.
  StepReport step();

  void save(const std::string& path) const;
  // The model's architecture JSON as save() records it (empty when none was given).
  const std::string& architecture() const { return model_.architecture; }

  const TrainSpec& spec() const { return spec_; }
  std::int64_t steps_done() const { return optimizer_->steps(); }
  nn::Module& module() { return *model_.module; }
  // The model as a velocity field. With device cuda it takes and returns host tensors (and
  // passes device tensors through), so evaluation code needs no device handling. A conditional
  // model's field() is its unconditional (null-condition) field.
  flows::VelocityField field() const;
  // A conditional model as v(x, t, c), host in and out like field(); throws for an
  // unconditional one.
  flows::ConditionalField conditional_field() const;
  // The field that sampling uses for conditions c: guided by spec().guidance.
  flows::VelocityField field_for(const Tensor& c) const;
  // The conditions the model was trained on (none for an unconditional run).
  const flows::ConditionSpec& condition() const { return condition_; }
  // A data file's standardisation (empty otherwise) and held-out rows (in data space).
  const Standardization& standardization() const { return standardization_; }
  const Tensor& heldout_points() const { return heldout_x_; }
  const Tensor& heldout_conditions() const { return heldout_c_; }
  Device device() const { return spec_.device; }
  const flows::Dataset& dataset() const { return *dataset_; }
  const flows::Path& path() const { return path_; }
  // The fixed training set (targets, and sources for coupling 'fixed'); empty without one.
  const Tensor& train_targets() const { return train_x1_; }
  const Tensor& train_sources() const { return train_x0_; }
  double lambda_at(std::int64_t step) const;

 private:
  Tensor batch_targets(std::int64_t b);
  flows::Dataset::Labeled draw_batch(std::int64_t b);  // targets and (conditional) conditions
  // efm_extra more data points on the device (undefined when 0): the reference points that
  // EFM and the per-point tilt add to the batch's targets.
  Tensor extra_references();
  // b row indices of the fixed training set, drawn uniformly with replacement from gen_.
  std::vector<std::int64_t> training_rows(std::int64_t b);
  // c: the rows' conditions after dropout; labels: before (the data's own).
  Tensor loss_for(const Tensor& x0, const Tensor& x1, const Tensor& t, const Tensor& c,
                  const Tensor& labels, double lambda);
  // What the objective needs beyond the batch: efm_extra more data points (EFM, the per-point
  // tilt), with their conditions for conditional EFM.
  struct References {
    Tensor points;                         // undefined when none
    flows::Dataset::Labeled class_points;  // conditional EFM
  };
  // This step's References, drawn from gen_ (none for other objectives): the plain step draws
  // them after its forward pass, the sharded step once, before its shards.
  References draw_references();
  // The global batch of a step, drawn on every rank alike.
  struct StepBatch {
    Tensor x0, x1, t, c, labels;
  };
  // One shard's part of the loss (sharded_step.cpp): `value` is what the loss over the whole
  // batch is formed from - the shard's mean loss ([1]), or its per-row losses ([rows]) for
  // the entropic tilts that compare rows across the batch - and FDM's parts (shard means).
  struct ShardLoss {
    Tensor value, cfm, cdm;
  };
  StepReport sharded_step(const StepBatch& batch, std::int64_t step, double lambda, double lr);
  ShardLoss shard_loss(const StepBatch& batch, std::int64_t lo, std::int64_t hi, Generator& gen,
                       const References& references, double lambda);
  // Whether the entropic tilt compares rows across the batch (batch, time bins, late): its
  // shards hand on per-row losses.
  bool tilts_across_rows() const;
  // The entropic loss over rows of per-sample losses at times t, tilted as spec().tilt says
  // (batch, time bins, late): the plain step's and the sharded step's one formula.
  Tensor tilted_loss(const Tensor& per_sample, const Tensor& t, double lambda) const;
  flows::FdmOptions fdm_options(std::int64_t dim) const;
  // The EFM target's sigma_min: the lipman path's, else 0 (rectified).
  double efm_sigma_min() const;
  // Reads the step's scalars (in one transfer from a device) into `report` (loss, its FDM
  // parts, the gradient norm); throws TrainingError on a non-finite loss or gradient.
  void read_step(const Tensor& loss, const std::vector<Tensor>& grads, StepReport& report) const;

  TrainSpec spec_;
  LoadedData loaded_;  // a data file's contents while the constructor runs (before dataset_)
  std::shared_ptr<const flows::Dataset> dataset_;
  flows::Path path_;
  Generator gen_;  // batches, times, noise, probes: the only stream that moves during training
  Tensor train_x0_, train_x1_, train_c_;
  flows::ConditionSpec condition_;
  Standardization standardization_;
  Tensor heldout_x_, heldout_c_;
  std::string data_fingerprint_;
  std::string training_set_fingerprint_;  // of the fixed training set; empty without one
  bool training_set_distinct_ = false;    // drawn without replacement (TensorDataset::subset)
  VelocityModel model_;
  std::unique_ptr<nn::Optimizer> optimizer_;
  nn::Schedule schedule_;
  Tensor last_cfm_, last_divergence_;  // the FDM terms of the step being taken
  std::shared_ptr<Collective> collective_;  // null: one process
  std::unique_ptr<ShardWorkers> workers_;   // made at the first sharded step
  // Each of this rank's shards' flattened gradient, kept from step to step: see
  // sharded_step.cpp's flatten_into.
  std::vector<Tensor> shard_grads_;
};

}  // namespace flowtape::train
