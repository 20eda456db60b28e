// SPDX-License-Identifier: MIT
// Links flowtape::nccl from an installed flowtape (tests/consumer/run.sh builds it, never runs
// it: NcclCollective needs GPUs). Taking the constructor's address pulls in the library and,
// through flowtape::NCCL, NCCL itself.
#include <flowtape/train/nccl_collective.hpp>
#include <memory>
#include <utility>

int main() {
  using flowtape::train::Collective;
  using flowtape::train::NcclCollective;
  NcclCollective* (*make)(std::shared_ptr<Collective>) = [](std::shared_ptr<Collective> host) {
    return new NcclCollective(std::move(host));
  };
  return make == nullptr;
}
