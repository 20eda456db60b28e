// SPDX-License-Identifier: MIT
// Collective: what data-parallel training needs from the processes (or threads) that train one
// model together - who I am, every rank's bytes gathered, and a pairwise exchange - and the
// fixed-order reductions built on it. The MPI implementation is train/mpi_collective.hpp; an
// in-process one (LocalCollective, one rank per thread) serves tests and embedders who want
// data parallelism without MPI.
//
// Why the reduction is written here and not left to MPI_Allreduce: a library all-reduce may
// sum in any order (ring, tree, by message arrival), so the bits of the result would depend on
// the rank count. Here the gradient of a step is a pairwise tree over its shards (shard 0 + 1,
// 2 + 3, then (0+1) + (2+3), ...). A rank holds a contiguous power-of-two block of shards, a
// subtree, which it sums locally; the ranks then finish the tree by recursive doubling (at
// level k rank r swaps partial sums with rank r xor 2^k). Floating-point addition is
// commutative, so both partners compute the same sum, and every rank count gives the tree's
// bits.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "flowtape/runtime/tensor.hpp"

namespace flowtape::train {

// Thrown when a rank does not answer in time, or the ranks disagree (configurations, state).
class CollectiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank's `mine` in rank order, on every rank; every rank passes the same length.
  virtual std::vector<std::byte> all_gather(std::span<const std::byte> mine) = 0;
  // Sends `mine` to rank `peer` and returns what `peer` sent (the same length).
  virtual std::vector<std::byte> exchange(int peer, std::span<const std::byte> mine) = 0;
  // exchange() of a tensor's values (the same shape and dtype on both ranks), returned on
  // mine's device. This default goes through the host; a GPU transport (NcclCollective)
  // sends device memory directly.
  virtual Tensor exchange_tensor(int peer, const Tensor& mine);
};

// In-process ranks: make(n) returns n collectives sharing one rendezvous, one for each of n
// threads. A rank that has not arrived within `timeout` makes the waiting ones throw
// CollectiveError (as the MPI one does), so a test that loses a rank fails instead of hanging.
class LocalCollective : public Collective {
 public:
  static std::vector<std::shared_ptr<Collective>> make(
      int n, std::chrono::milliseconds timeout = std::chrono::minutes(5));
  int rank() const override { return rank_; }
  int size() const override;
  std::vector<std::byte> all_gather(std::span<const std::byte> mine) override;
  std::vector<std::byte> exchange(int peer, std::span<const std::byte> mine) override;

  struct Shared;  // the rendezvous (collective.cpp)
  LocalCollective(std::shared_ptr<Shared> shared, int rank)
      : shared_(std::move(shared)), rank_(rank) {}

 private:
  std::shared_ptr<Shared> shared_;
  int rank_;
};

// The sum of `blocks` (tensors of one shape, dtype and device: one per shard, in shard order, a
// power-of-two count) by the pairwise tree.
Tensor tree_sum(std::vector<Tensor> blocks);

// Finishes the tree across ranks: `partial` is this rank's subtree sum (its block of shards);
// every rank gets the whole tree's sum. The rank count must be a power of two.
Tensor all_reduce_tree(Collective& c, Tensor partial);

// Every rank's values (the same count on each) in rank order, on every rank.
std::vector<double> all_gather_values(Collective& c, std::span<const double> mine);

// Whether this process was started by an MPI launcher (mpirun, mpiexec, srun with PMI): its
// environment names a rank. (No MPI call: a build without MPI can still tell.)
bool started_by_mpi_launcher();
// This process's rank among the ranks on its host, as the launcher says (OpenMPI, MPICH,
// Slurm, torchrun-style LOCAL_RANK), or -1: which GPU a rank takes.
int launcher_local_rank();

// Refuses (CollectiveError, the same message on every rank) unless every rank passed the same
// `text` (a configuration, a state); `what` names it in the message.
void require_agreement(Collective& c, const std::string& text, const std::string& what);

}  // namespace flowtape::train
