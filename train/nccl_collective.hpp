// SPDX-License-Identifier: MIT
// NcclCollective: GPU ranks (one process per GPU) as a train::Collective over NCCL. The
// gradient tree's exchanges send device memory directly (ncclSend / ncclRecv, whose pairing
// the tree fixes, so the bits match one GPU with the same shards); the per-step gather of the
// shards' loss values goes through ncclAllGather. Part of flowtape::nccl, built when the CUDA
// backend is and CMake finds NCCL (it ships with the CUDA toolkit).
//
// NCCL needs its ranks introduced: a host collective (MPI ranks, or in-process ranks) carries
// rank 0's NCCL id to the others once. The communicator is non-blocking, so every call is
// polled against `timeout` like MpiCollective's, and a rank that stops answering makes the
// others abort the communicator and throw CollectiveError. All work goes to the legacy default
// stream, as every flowtape kernel does (kernels/cuda/runtime.hpp).
#pragma once

#include <chrono>
#include <memory>

#include "flowtape/train/collective.hpp"

namespace flowtape::train {

class NcclCollective : public Collective {
 public:
  // Joins the ranks of `host` (rank and size) on this process's current CUDA device
  // (cuda_select_device). One rank is allowed: its exchanges and gathers still run through
  // NCCL.
  explicit NcclCollective(std::shared_ptr<Collective> host,
                          std::chrono::milliseconds timeout = std::chrono::minutes(5));
  ~NcclCollective() override;
  NcclCollective(const NcclCollective&) = delete;
  NcclCollective& operator=(const NcclCollective&) = delete;

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  std::vector<std::byte> all_gather(std::span<const std::byte> mine) override;
  std::vector<std::byte> exchange(int peer, std::span<const std::byte> mine) override;
  // Device tensors go GPU to GPU; host tensors through the host transport's exchange_tensor.
  Tensor exchange_tensor(int peer, const Tensor& mine) override;

 private:
  struct State;  // the communicator and scratch buffers (nccl_collective.cpp)
  std::shared_ptr<Collective> host_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<State> state_;
};

}  // namespace flowtape::train
