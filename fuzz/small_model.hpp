// The small model the safetensors fuzzer validates checkpoints against, shared with
// make_corpus.cpp so the seed corpus holds checkpoints that fit it exactly.
#pragma once

#include <memory>

#include "nn/nn.hpp"

namespace flowtape::fuzz {

struct SmallModel {
  Generator gen{7};
  nn::VelocityMLP model{2, 8, 1, gen};
  nn::Adam optimizer{model.parameters(), nn::AdamOptions{}};
};

}  // namespace flowtape::fuzz
