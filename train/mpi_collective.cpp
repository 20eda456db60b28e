// SPDX-License-Identifier: MIT
// MpiCollective over MPI's non-blocking point-to-point and gather calls; see mpi_collective.hpp.
#include "flowtape/train/mpi_collective.hpp"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>

namespace flowtape::train {
namespace {

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw CollectiveError(std::string(what) + ": " +
                        std::string(text, static_cast<std::size_t>(length)));
}

// Polls the requests until all complete or the deadline passes. Spins first (a step's
// exchanges are microseconds apart), then yields, then sleeps, so a rank waiting on a slower
// one does not take the core it runs on (ranks may share cores).
bool wait_all(std::span<MPI_Request> requests, std::chrono::milliseconds timeout,
              MPI_Status* statuses = MPI_STATUSES_IGNORE) {
  const auto start = std::chrono::steady_clock::now();
  for (long polls = 0;; ++polls) {
    int done = 0;
    check(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, statuses),
          "MPI_Testall");
    if (done) return true;
    if (polls < 2000) continue;
    const auto waited = std::chrono::steady_clock::now() - start;
    if (waited > timeout) return false;
    if (waited < std::chrono::milliseconds(5))
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

std::string seconds(std::chrono::milliseconds t) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(t.count()) / 1000.0);
  return text;
}

}  // namespace

MpiCollective::MpiCollective(std::chrono::milliseconds timeout) : timeout_(timeout) {
  int initialised = 0;
  check(MPI_Initialized(&initialised), "MPI_Initialized");
  if (!initialised) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    initialised_here_ = true;
    if (provided < MPI_THREAD_FUNNELED)
      throw CollectiveError(
          "this MPI library gives no thread support (MPI_THREAD_FUNNELED is "
          "needed: the trainer runs worker threads beside its MPI calls)");
  }
  // Errors come back as codes (then exceptions), not as the default abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

MpiCollective::~MpiCollective() {
  // After a failed call MPI may still hold its requests, and MPI_Finalize could wait on a rank
  // that never comes: a broken job is left to end (the launcher reports the process that
  // exited without finalizing), not finalized.
  if (!broken_) finalize();
}

void MpiCollective::finalize() {
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (initialised_here_ && !finalised) MPI_Finalize();
}

void MpiCollective::leave() {
  all_gather(std::as_bytes(std::span<const int>(&rank_, 1)));  // throws once broken
  finalize();
}

std::vector<std::byte> MpiCollective::all_gather(std::span<const std::byte> mine) {
  refuse_if_broken();
  const int bytes = message_size(mine.size(), "gather");
  std::vector<std::byte> all(mine.size() * static_cast<std::size_t>(size_));
  std::vector<std::byte> sent(mine.begin(), mine.end());  // owned: it may outlive a failure
  try {
    MPI_Request request;
    check(MPI_Iallgather(sent.data(), bytes, MPI_BYTE, all.data(), bytes, MPI_BYTE, MPI_COMM_WORLD,
                         &request),
          "MPI_Iallgather");
    if (!wait_all({&request, 1}, timeout_))
      throw CollectiveError("rank " + std::to_string(rank_) +
                            ": the other ranks did not reach a gather within " + seconds(timeout_) +
                            " s (a rank hangs, died, or runs other arguments)");
  } catch (...) {
    broken_ = true;
    abandoned_.push_back(std::move(all));
    abandoned_.push_back(std::move(sent));
    throw;
  }
  return all;
}

void MpiCollective::refuse_if_broken() const {
  if (broken_)
    throw CollectiveError("rank " + std::to_string(rank_) +
                          ": an earlier exchange of this job failed; its collective cannot be "
                          "used again");
}

int MpiCollective::message_size(std::size_t bytes, const char* what) const {
  if (bytes > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw std::length_error(std::string(what) + ": " + std::to_string(bytes) +
                            " bytes is more than one MPI message carries here (2^31 - 1)");
  return static_cast<int>(bytes);
}

void MpiCollective::send_receive(int peer, const void* mine, void* theirs, int bytes) {
  MPI_Request requests[2];
  MPI_Status statuses[2];
  constexpr int kTag = 17;
  check(MPI_Irecv(theirs, bytes, MPI_BYTE, peer, kTag, MPI_COMM_WORLD, &requests[0]), "MPI_Irecv");
  check(MPI_Isend(mine, bytes, MPI_BYTE, peer, kTag, MPI_COMM_WORLD, &requests[1]), "MPI_Isend");
  if (!wait_all(requests, timeout_, statuses))
    throw CollectiveError("rank " + std::to_string(rank_) + ": rank " + std::to_string(peer) +
                          " did not answer within " + seconds(timeout_) + " s (it hangs or died)");
  int received = 0;
  check(MPI_Get_count(&statuses[0], MPI_BYTE, &received), "MPI_Get_count");
  if (received != bytes)
    throw CollectiveError("rank " + std::to_string(rank_) + ": rank " + std::to_string(peer) +
                          " sent " + std::to_string(received) + " bytes in an exchange of " +
                          std::to_string(bytes) + " (the ranks run different models)");
}

std::vector<std::byte> MpiCollective::exchange(int peer, std::span<const std::byte> mine) {
  refuse_if_broken();
  const int bytes = message_size(mine.size(), "exchange");
  std::vector<std::byte> theirs(mine.size());
  std::vector<std::byte> sent(mine.begin(), mine.end());  // owned: it may outlive a failure
  try {
    send_receive(peer, sent.data(), theirs.data(), bytes);
  } catch (...) {
    broken_ = true;
    abandoned_.push_back(std::move(theirs));
    abandoned_.push_back(std::move(sent));
    throw;
  }
  return theirs;
}

Tensor MpiCollective::exchange_tensor(int peer, const Tensor& mine) {
  refuse_if_broken();
  const int bytes = message_size(static_cast<std::size_t>(mine.nbytes()), "exchange");
  const Tensor host = to_host(mine);
  Tensor theirs = empty(mine.shape(), mine.dtype(), Device::cpu);
  try {
    send_receive(peer, host.raw_data(), theirs.mutable_raw_data(), bytes);
  } catch (...) {
    broken_ = true;
    abandoned_tensors_.push_back(host);
    abandoned_tensors_.push_back(theirs);
    throw;
  }
  return mine.device() == Device::cpu ? theirs : theirs.to(mine.device());
}

void MpiCollective::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // (MPI_Abort does not return)
}

}  // namespace flowtape::train
