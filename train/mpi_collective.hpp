// SPDX-License-Identifier: MIT
// MpiCollective: the ranks of an MPI job (MPI_COMM_WORLD) as a train::Collective, for
// data-parallel training across processes and hosts (`mpirun -n 4 flowtape train ...`).
// Part of flowtape::mpi, built when CMake finds MPI (Debian: libopenmpi-dev).
//
// Every call waits at most `timeout` for the other ranks: MPI's own collectives would block
// forever on a rank that hangs, so the exchanges here are non-blocking requests polled against
// a deadline, and a rank that misses it makes the caller throw CollectiveError (then abort()
// ends the whole job, as MPI cannot cancel a collective in flight). After one failure every
// later call throws too. A rank that dies is reported by the launcher (mpirun ends the job).
//
// MPI is called from the constructing thread only (MPI_THREAD_FUNNELED): the trainer makes its
// collective calls from the thread that runs train().
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "flowtape/train/collective.hpp"

namespace flowtape::train {

class MpiCollective : public Collective {
 public:
  // Initialises MPI (once per process) and joins MPI_COMM_WORLD.
  explicit MpiCollective(std::chrono::milliseconds timeout = std::chrono::minutes(5));
  // Finalises MPI if this object initialised it.
  ~MpiCollective() override;
  MpiCollective(const MpiCollective&) = delete;
  MpiCollective& operator=(const MpiCollective&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::vector<std::byte> all_gather(std::span<const std::byte> mine) override;
  std::vector<std::byte> exchange(int peer, std::span<const std::byte> mine) override;
  // Straight between the tensors' memory (through the host for a device tensor), with no
  // byte vectors made for each exchange: those were page-faulted in afresh every step under
  // some allocation patterns, a large part of a step at width 256.
  Tensor exchange_tensor(int peer, const Tensor& mine) override;
  // Ends every rank of the job with exit status `code` (MPI_Abort).
  [[noreturn]] void abort(int code);
  // Leaves the job now (MPI_Finalize, if this object initialised MPI): the other ranks stop
  // waiting for this one. No call may follow. (The destructor finalizes too, unless a call
  // failed: then MPI may still hold requests and wait on a rank that never comes.)
  void finalize();
  // Meets every rank once more, then finalize(). The meeting is a gather polled against the
  // deadline: MPI_Finalize itself may wait for every rank with no deadline, so a rank that
  // hangs after the last exchange would hold the others forever. Throws CollectiveError
  // (and finalizes nothing) when a rank does not come in time or an earlier call failed.
  void leave();

 private:
  int rank_ = 0, size_ = 1;
  std::chrono::milliseconds timeout_;
  bool initialised_here_ = false;
  // Posts the receive of `bytes` from peer into theirs and the send of mine, and waits for
  // both; throws CollectiveError when the peer does not answer in time or MPI fails (MPI may
  // then still use both buffers).
  void send_receive(int peer, const void* mine, void* theirs, int bytes);
  // After a failed call MPI may still hold requests on this object's buffers and the ranks
  // no longer agree on where they are, so every later call throws.
  void refuse_if_broken() const;
  // bytes as an MPI count, refused (std::length_error, before anything is sent) above 2^31 - 1.
  int message_size(std::size_t bytes, const char* what) const;
  bool broken_ = false;

  // Buffers of calls that failed: MPI may still read or write them, so their memory lives as
  // long as this object. The tensors are kept, not copied: a sent one may be the caller's,
  // which must not be written after the CollectiveError (the trainer drops its buffers then).
  std::vector<std::vector<std::byte>> abandoned_;
  std::vector<Tensor> abandoned_tensors_;
};

}  // namespace flowtape::train
