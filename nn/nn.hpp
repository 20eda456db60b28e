// flowtape's nn layer in one include: modules and layers, optimizers, schedules, EMA, gradient
// clipping and safetensors checkpoints. Random initialisation draws from autodiff's Philox
// Generator (re-exported here as nn::Generator): same seed, bit-identical weights and training.
#pragma once

#include "autodiff/autodiff.hpp"
#include "nn/activation.hpp"
#include "nn/checkpoint.hpp"
#include "nn/clip.hpp"
#include "nn/device.hpp"
#include "nn/ema.hpp"
#include "nn/grad_step.hpp"
#include "nn/layer_norm.hpp"
#include "nn/linear.hpp"
#include "nn/mlp.hpp"
#include "nn/module.hpp"
#include "nn/optimizer.hpp"
#include "nn/safetensors.hpp"
#include "nn/schedule.hpp"
#include "nn/time_embedding.hpp"
#include "nn/velocity_mlp.hpp"

namespace flowtape::nn {
using flowtape::Generator;
}  // namespace flowtape::nn
