// SPDX-License-Identifier: MIT
// Moving a model between devices. Layers keep handles to their parameters, so the move
// relocates each parameter's and buffer's storage in place (autodiff's relocate): every
// handle - the layer's members, parameters(), an optimizer built later - sees the new device.
// Move the model before building its optimizer (whose state lives where the parameters are).
#pragma once

#include "flowtape/nn/module.hpp"

namespace flowtape::nn {

void to_device(Module& model, Device device);

}  // namespace flowtape::nn
