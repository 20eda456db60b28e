// SPDX-License-Identifier: MIT
// Training checkpoints: a model's state_dict, optionally an optimizer's and an EMA's state, and
// string metadata, in one safetensors file. Model tensors keep their plain names
// ("layers.0.weight"), so the file loads as weights anywhere; optimizer and EMA state are
// prefixed "optimizer." and "ema.". The metadata records "format" = "flowtape.checkpoint" and
// the optimizer's "step".
//
// load_checkpoint() validates the whole file against the objects before writing anything:
// missing or unexpected tensors and shape or dtype disagreements throw CheckpointError naming
// the tensor and both shapes. Optimizer or EMA tensors in the file are ignored when no optimizer
// or EMA is passed (loading weights for inference).
#pragma once

#include <string>

#include "flowtape/nn/ema.hpp"
#include "flowtape/nn/module.hpp"
#include "flowtape/nn/optimizer.hpp"
#include "flowtape/nn/safetensors.hpp"

namespace flowtape::nn {

void save_checkpoint(const std::string& path, const Module& model,
                     const Optimizer* optimizer = nullptr, const Metadata& metadata = {},
                     const EMA* ema = nullptr);

// Returns the file's metadata.
Metadata load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer = nullptr,
                         EMA* ema = nullptr);
// The same on a decoded file (bytes from memory, the fuzzer); `source` names it in messages.
Metadata load_checkpoint(const SafetensorsContents& file, const std::string& source, Module& model,
                         Optimizer* optimizer = nullptr, EMA* ema = nullptr);

}  // namespace flowtape::nn
