// SPDX-License-Identifier: MIT
// flowtape's nn layer in one include: modules and layers, optimizers, schedules, EMA, gradient
// clipping and safetensors checkpoints. Random initialisation draws from autodiff's Philox
// Generator (re-exported here as nn::Generator): same seed, bit-identical weights and training.
#pragma once

#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/nn/activation.hpp"
#include "flowtape/nn/atomic_file.hpp"
#include "flowtape/nn/checkpoint.hpp"
#include "flowtape/nn/clip.hpp"
#include "flowtape/nn/device.hpp"
#include "flowtape/nn/ema.hpp"
#include "flowtape/nn/grad_step.hpp"
#include "flowtape/nn/layer_norm.hpp"
#include "flowtape/nn/linear.hpp"
#include "flowtape/nn/mlp.hpp"
#include "flowtape/nn/module.hpp"
#include "flowtape/nn/optimizer.hpp"
#include "flowtape/nn/safetensors.hpp"
#include "flowtape/nn/schedule.hpp"
#include "flowtape/nn/time_embedding.hpp"
#include "flowtape/nn/velocity_mlp.hpp"

namespace flowtape::nn {
using flowtape::Generator;
}  // namespace flowtape::nn
