// SPDX-License-Identifier: MIT
// The small model the safetensors fuzzer validates checkpoints against, shared with
// make_corpus.cpp so the seed corpus holds checkpoints that fit it exactly.
#pragma once

#include <memory>

#include "flowtape/nn/nn.hpp"

namespace flowtape::fuzz {

struct SmallModel {
  Generator gen{7};
  // Sinusoidal time features, as when the seed corpus in fuzz/corpus was written from this
  // model (the library's default embedding has since become raw t).
  nn::VelocityMLP model{2, 8, 1, gen, {.time_embedding = nn::TimeEmbeddingKind::sinusoidal}};
  nn::Adam optimizer{model.parameters(), nn::AdamOptions{}};
};

}  // namespace flowtape::fuzz
