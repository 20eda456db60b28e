// SPDX-License-Identifier: MIT
// TrainSpec: every choice of a flow-matching training run, typed (enums and numbers, so the
// training loop never compares strings), with the defaults the `flowtape` command and the
// example programs start from. Its JSON form, with the choices by name, is what a run folder
// records (config.json, a checkpoint's metadata) and what --resume checks it continues.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "flowtape/flows/csv.hpp"
#include "flowtape/flows/divergence.hpp"
#include "flowtape/flows/path.hpp"
#include "flowtape/nn/activation.hpp"
#include "flowtape/nn/velocity_mlp.hpp"
#include "flowtape/solvers/method.hpp"

namespace flowtape::train {

enum class Loss { cfm, entropic, fdm, efm };
// Which residuals the entropic tilt compares: the whole batch (the paper), those within each
// time bin, only the late ones (t >= tilt_from; the others are averaged untilted), or, per
// point, the conditional velocities of a reference set at each row's (x_t, t)
// (flows::per_point_entropic_loss; the batch's targets and efm_extra more data points).
enum class EntropicTilt { batch, time_bins, late, point };
// How a batch pairs noise with data: independently, by minibatch optimal transport, or as
// fixed pairs drawn once with the training set (needs train_size > 0).
enum class Coupling { independent, ot, fixed };
// constant; linear warm-up then constant; warm-up then cosine decay; warm-up then a step
// decay by lr_decay every lr_decay_every steps (PyTorch's StepLR).
enum class LrSchedule { constant, warmup, cosine, step };
// How a conditional VelocityMLP takes its condition (nn/velocity_mlp.hpp).
enum class Conditioning { concat, film };

struct TrainSpec {
  // data: a built-in dataset's name (flows::make_dataset), or the name of the dataset given
  // to the Trainer
  std::string dataset = "rings";
  // 0: fresh samples every step; > 0: a fixed training set (from a finite dataset, distinct
  // rows when it has that many)
  std::int64_t train_size = 0;
  // The user's own data instead (train/data.hpp): a CSV or .npy file of points, with labels
  // from one of its columns (label_column >= 0) or from a file, or context vectors from a file.
  std::string data;
  std::int64_t label_column = -1;
  std::string labels, context;
  bool standardize = false;  // train on (x - mean) / std per column; sampling undoes it
  double holdout = 0.0;      // the fraction of the rows held out for the metrics
  // Conditional generation: v(x, t, c) on the data's labels or context (flows/condition.hpp).
  bool conditional = false;
  double cond_drop = 0.1;  // the fraction of rows trained with no condition (for guidance)
  int condition_dim = 32;  // the label embedding's width
  Conditioning conditioning = Conditioning::concat;
  double guidance = 0.0;   // sampling: classifier-free guidance scale w (0: the conditional field)
  // path and coupling
  flows::PathKind path = flows::PathKind::rectified;
  double sigma = 0.0;  // sigma_min (lipman) or sigma (independent)
  Coupling coupling = Coupling::independent;
  // objective
  Loss loss = Loss::cfm;
  double lambda_max = 0.3;  // entropic: lambda after the ramp
  double ramp_start = 0.0;  // entropic: ramp from 0 at this fraction of the steps ...
  double ramp_end = 0.5;    // ... to lambda_max at this fraction (ramp_end = 0: constant)
  EntropicTilt tilt = EntropicTilt::batch;  // entropic: the groups tilted (flows/losses.hpp)
  int tilt_bins = 8;                        // entropic, time_bins: bins of t
  double tilt_from = 0.8;                   // entropic, late: the earliest t tilted
  double fdm_weight = 0.1;  // fdm: weight of the divergence term (CFM weight 1)
  // fdm: the official 2-D code's loss instead, MSE + fdm_weight (L_colsum + L_der + d^2 MSE)
  // (flows::fdm_official_options; fdm_weight is its reg, 0.1 there)
  bool fdm_official = false;
  int probes = 1;           // fdm: Hutchinson probes per sample
  flows::ProbeKind probe = flows::ProbeKind::rademacher;
  bool exact_divergence = false;
  std::int64_t efm_extra = 256;  // efm, entropic point tilt: extra reference points per batch
  // model (the built-in VelocityMLP; a model given to the Trainer ignores these)
  int hidden = 128;
  int depth = 3;
  nn::Activation activation = nn::Activation::silu;
  // The library's default (nn/velocity_mlp.hpp says why).
  nn::TimeEmbeddingKind time_embedding = nn::VelocityMLPOptions{}.time_embedding;
  // optimisation
  std::int64_t steps = 3000;
  std::int64_t batch = 256;
  double lr = 2e-3;
  LrSchedule schedule = LrSchedule::cosine;
  std::int64_t warmup = 0;           // linear warm-up steps (warmup, cosine and step schedules)
  double lr_decay = 0.999;           // step schedule: the factor ...
  std::int64_t lr_decay_every = 10;  // ... applied every this many steps
  // The horizon of the cosine decay and of the entropic lambda ramp; 0 means `steps`. A run
  // resumed with more steps (flowtape train --resume --steps N) keeps its original horizon,
  // so its schedule continues where it was; set this to stretch it instead.
  std::int64_t schedule_steps = 0;
  // Data parallelism (train/sharded_step.cpp). shards > 1 splits the batch into that many equal
  // micro-batches, each differentiated on its own tape, their gradients summed in a fixed
  // pairwise tree; it defines the computation (part of a run's identity), so every way of
  // running the same shards (threads, MPI ranks) writes the same bits. A power of two dividing
  // batch; 1 is the plain single-tape step.
  std::int64_t shards = 1;
  // Threads that compute this process's shards (at most its shard count; not part of a run's
  // identity: any number gives the same bits). 1 on device cuda (one GPU per process).
  int shard_threads = 1;
  double weight_decay = 0.0;  // AdamW when > 0, else Adam
  double grad_clip = 0.0;     // 0: off
  std::uint64_t seed = 0;
  // Where the model trains, samples and is evaluated. The batches are drawn on the host from
  // the same generator either way (a cuda run sees the cpu run's data), then moved; not part
  // of a run's identity, so a checkpoint resumes on either device.
  Device device = Device::cpu;
  std::int64_t checkpoint_every = 0;  // 0: only at the end
  // sampling and evaluation
  solvers::Method solver = solvers::Method::dopri5;
  double rtol = 1e-5, atol = 1e-5;
  int euler_steps = 100;  // for fixed-step solvers
  std::int64_t eval_samples = 4000;
  bool nll = true;  // estimate the NLL of held-out data (exact divergence)
  std::int64_t nll_samples = 1000;

  friend bool operator==(const TrainSpec&, const TrainSpec&) = default;
};

// Throws std::invalid_argument naming the first bad field and why.
void validate(const TrainSpec& s);
// schedule_steps, or steps when it is 0.
std::int64_t schedule_horizon(const TrainSpec& s);
// Whether the spec's schedule or lambda ramp depends on the horizon (cosine decay, entropic
// ramp): a resumed run pins it.
bool has_horizon(const TrainSpec& s);

// JSON text, one key per field, choices by name ("loss": "fdm"); spec_from_json refuses
// unknown keys (a typo must not silently fall back to a default), values of the wrong kind and
// unknown names, with std::invalid_argument naming the field.
std::string to_json(const TrainSpec& s);
TrainSpec spec_from_json(std::string_view text);

// The names of each choice, as the JSON form and the command line spell them.
template <class E>
struct Choices;
template <>
struct Choices<Loss> {
  static constexpr std::array<std::pair<Loss, const char*>, 4> all{
      {{Loss::cfm, "cfm"}, {Loss::entropic, "entropic"}, {Loss::fdm, "fdm"}, {Loss::efm, "efm"}}};
};
template <>
struct Choices<EntropicTilt> {
  static constexpr std::array<std::pair<EntropicTilt, const char*>, 4> all{
      {{EntropicTilt::batch, "batch"},
       {EntropicTilt::time_bins, "time_bins"},
       {EntropicTilt::late, "late"},
       {EntropicTilt::point, "point"}}};
};
template <>
struct Choices<Coupling> {
  static constexpr std::array<std::pair<Coupling, const char*>, 3> all{
      {{Coupling::independent, "independent"}, {Coupling::ot, "ot"}, {Coupling::fixed, "fixed"}}};
};
template <>
struct Choices<LrSchedule> {
  static constexpr std::array<std::pair<LrSchedule, const char*>, 4> all{
      {{LrSchedule::constant, "constant"},
       {LrSchedule::warmup, "warmup"},
       {LrSchedule::cosine, "cosine"},
       {LrSchedule::step, "step"}}};
};
template <>
struct Choices<Conditioning> {
  static constexpr std::array<std::pair<Conditioning, const char*>, 2> all{
      {{Conditioning::concat, "concat"}, {Conditioning::film, "film"}}};
};
template <>
struct Choices<flows::PathKind> {
  static constexpr std::array<std::pair<flows::PathKind, const char*>, 4> all{
      {{flows::PathKind::rectified, "rectified"},
       {flows::PathKind::lipman, "lipman"},
       {flows::PathKind::independent, "independent"},
       {flows::PathKind::vp_cosine, "vp"}}};
};
template <>
struct Choices<flows::ProbeKind> {
  static constexpr std::array<std::pair<flows::ProbeKind, const char*>, 2> all{
      {{flows::ProbeKind::gaussian, "gaussian"}, {flows::ProbeKind::rademacher, "rademacher"}}};
};
template <>
struct Choices<nn::Activation> {  // (identity is not a choice for a hidden layer)
  static constexpr std::array<std::pair<nn::Activation, const char*>, 5> all{
      {{nn::Activation::relu, "relu"},
       {nn::Activation::silu, "silu"},
       {nn::Activation::tanh, "tanh"},
       {nn::Activation::gelu, "gelu"},
       {nn::Activation::softplus, "softplus"}}};
};
template <>
struct Choices<nn::TimeEmbeddingKind> {
  static constexpr std::array<std::pair<nn::TimeEmbeddingKind, const char*>, 3> all{
      {{nn::TimeEmbeddingKind::raw, "raw"},
       {nn::TimeEmbeddingKind::sinusoidal, "sinusoidal"},
       {nn::TimeEmbeddingKind::fourier, "fourier"}}};
};
template <>
struct Choices<Device> {
  static constexpr std::array<std::pair<Device, const char*>, 2> all{
      {{Device::cpu, "cpu"}, {Device::cuda, "cuda"}}};
};
template <>
struct Choices<solvers::Method> {
  static constexpr std::array<std::pair<solvers::Method, const char*>, 9> all{
      {{solvers::Method::euler, "euler"},
       {solvers::Method::midpoint, "midpoint"},
       {solvers::Method::heun, "heun"},
       {solvers::Method::rk4, "rk4"},
       {solvers::Method::bosh3, "bosh3"},
       {solvers::Method::dopri5, "dopri5"},
       {solvers::Method::tsit5, "tsit5"},
       {solvers::Method::dopri8, "dopri8"},
       {solvers::Method::dop853, "dop853"}}};
};
static_assert(Choices<solvers::Method>::all.size() == solvers::kMethods.size(),
              "every solver method needs its name here");

template <class E>
const char* name_of(E e) {
  for (const auto& [value, name] : Choices<E>::all)
    if (value == e) return name;
  return "?";
}
// The choice named `name`; std::invalid_argument ("invalid loss 'x': expected one of cfm,
// entropic, fdm, efm") for another name.
template <class E>
E choice_from_name(std::string_view name, std::string_view field) {
  std::string list;
  for (const auto& [value, n] : Choices<E>::all) {
    if (name == n) return value;
    list += (list.empty() ? "" : ", ") + std::string(n);
  }
  throw std::invalid_argument("invalid " + std::string(field) + " " + flows::excerpt(name) +
                              ": expected one of " + list);
}

}  // namespace flowtape::train
