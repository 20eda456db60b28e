// SPDX-License-Identifier: MIT
// nn::to_device: relocates every parameter and buffer of a module tree.
#include "flowtape/nn/device.hpp"

namespace flowtape::nn {

void to_device(Module& model, Device device) {
  for (auto& [name, t] : model.named_parameters()) relocate(t, device);
  for (auto& [name, t] : model.named_buffers()) relocate(t, device);
}

}  // namespace flowtape::nn
