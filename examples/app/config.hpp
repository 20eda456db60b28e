// SPDX-License-Identifier: MIT
// TrainConfig: every choice of a flow-matching training run, with the defaults the `flowtape`
// command and the example programs start from. It round-trips through JSON so a run folder
// records exactly what produced it (metrics.json, the checkpoint's metadata) and --resume can
// check that it continues the same run.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "flowtape/nn/velocity_mlp.hpp"

namespace flowtape::app {

struct TrainConfig {
  // data
  std::string dataset = "rings";
  std::int64_t train_size = 0;  // 0: fresh samples every step; > 0: a fixed training set
  // path and coupling
  std::string path = "rectified";        // rectified | lipman | independent | vp
  double sigma = 0.0;                    // sigma_min (lipman) or sigma (independent)
  std::string coupling = "independent";  // independent | ot | fixed (fixed needs train_size)
  // objective
  std::string loss = "cfm";  // cfm | entropic | fdm | efm
  double lambda_max = 0.3;   // entropic: lambda after the ramp
  double ramp_start = 0.0;   // entropic: ramp from 0 at this fraction of the steps ...
  double ramp_end = 0.5;     // ... to lambda_max at this fraction (ramp_end = 0: constant)
  double fdm_weight = 0.1;   // fdm: weight of the divergence term (CFM weight 1)
  int probes = 1;            // fdm: Hutchinson probes per sample
  std::string probe = "rademacher";
  bool exact_divergence = false;
  std::int64_t efm_extra = 256;  // efm: extra reference points per batch
  // model
  int hidden = 128;
  int depth = 3;
  std::string activation = "silu";
  // raw | sinusoidal | fourier; the library's default (nn/velocity_mlp.hpp says why).
  std::string time_embedding = nn::time_embedding_name(nn::VelocityMLPOptions{}.time_embedding);
  // optimisation
  std::int64_t steps = 3000;
  std::int64_t batch = 256;
  double lr = 2e-3;
  std::string schedule = "cosine";  // constant | warmup | cosine
  std::int64_t warmup = 0;          // linear warm-up steps (warmup and cosine schedules)
  // The horizon of the cosine decay and of the entropic lambda ramp; 0 means `steps`. A run
  // resumed with more steps (flowtape train --resume --steps N) keeps its original horizon,
  // so its schedule continues where it was; set this to stretch it instead.
  std::int64_t schedule_steps = 0;
  double weight_decay = 0.0;        // AdamW when > 0, else Adam
  double grad_clip = 0.0;           // 0: off
  std::uint64_t seed = 0;
  // Where the model trains, samples and is evaluated: "cpu" or "cuda". The batches are drawn on
  // the host from the same generator either way (a cuda run sees the cpu run's data), then
  // moved; not part of a run's identity, so a checkpoint resumes on either device.
  std::string device = "cpu";
  std::int64_t checkpoint_every = 0;  // 0: only at the end
  // sampling and evaluation
  std::string solver = "dopri5";
  double rtol = 1e-5, atol = 1e-5;
  int euler_steps = 100;  // for fixed-step solvers
  std::int64_t eval_samples = 4000;
  bool nll = true;  // estimate the NLL of held-out data (exact divergence)
  std::int64_t nll_samples = 1000;

  friend bool operator==(const TrainConfig&, const TrainConfig&) = default;
};

// Throws std::invalid_argument naming the first bad field and why.
void validate(const TrainConfig& c);
// schedule_steps, or steps when it is 0.
std::int64_t schedule_horizon(const TrainConfig& c);

nlohmann::json to_json(const TrainConfig& c);
// Unknown keys are refused (a typo must not silently fall back to a default).
TrainConfig config_from_json(const nlohmann::json& j);

}  // namespace flowtape::app
