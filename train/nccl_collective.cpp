// SPDX-License-Identifier: MIT
// NcclCollective over a non-blocking NCCL communicator; see nccl_collective.hpp.
#include "flowtape/train/nccl_collective.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "flowtape/kernels/cuda/allocator.hpp"

namespace flowtape::train {

struct NcclCollective::State {
  ncclComm_t comm = nullptr;
  void* scratch = nullptr;  // device bytes for host-to-host calls through NCCL
  std::size_t capacity = 0;
};

namespace {

// Aborts the communicator (NCCL cannot cancel a call in flight, and a communicator left with
// work pending or peers gone would make ncclCommDestroy hang) and throws.
[[noreturn]] void abort_and_throw(ncclComm_t& comm, const std::string& message) {
  (void)cudaGetLastError();  // a failed CUDA call's error is this one, not the next launch's
  if (comm) ncclCommAbort(comm);
  comm = nullptr;  // aborted is freed: the destructor must not destroy it again
  throw CollectiveError(message);
}

// Polls until NCCL's pending calls on `comm` and then the stream's work are done, or the
// deadline passes; on any failure the communicator is aborted.
void wait(ncclComm_t& comm, std::chrono::milliseconds timeout, int rank, const char* what) {
  const std::string where = "rank " + std::to_string(rank) + ": " + what;
  const auto start = std::chrono::steady_clock::now();
  const auto late = [&] { return std::chrono::steady_clock::now() - start > timeout; };
  ncclResult_t state = ncclInProgress;
  while (true) {
    if (ncclCommGetAsyncError(comm, &state) != ncclSuccess) state = ncclSystemError;
    if (state != ncclInProgress) break;
    if (late()) break;
    std::this_thread::yield();
  }
  if (state == ncclSuccess) {
    while (true) {
      const cudaError_t q = cudaStreamQuery(0);
      if (q == cudaSuccess) return;
      (void)cudaGetLastError();  // a query's not-ready must not reach the next launch's check
      if (q != cudaErrorNotReady)
        abort_and_throw(comm, where + " failed on the device: " + cudaGetErrorString(q));
      if (ncclCommGetAsyncError(comm, &state) != ncclSuccess || state != ncclSuccess) break;
      if (late()) break;
      std::this_thread::yield();
    }
  }
  abort_and_throw(comm, where + (state != ncclSuccess && state != ncclInProgress
                                     ? std::string(" failed: ") + ncclGetErrorString(state)
                                     : " did not complete within the timeout (a rank hangs or "
                                       "died)"));
}

bool failed(ncclResult_t r) {
  return r != ncclSuccess && r != ncclInProgress;
}

void check_nccl(ncclResult_t r, const char* what) {
  if (r != ncclSuccess && r != ncclInProgress)
    throw CollectiveError(std::string(what) + ": " + ncclGetErrorString(r));
}

}  // namespace

NcclCollective::NcclCollective(std::shared_ptr<Collective> host, std::chrono::milliseconds timeout)
    : host_(std::move(host)), timeout_(timeout), state_(std::make_unique<State>()) {
  if (!host_) throw std::invalid_argument("NcclCollective: needs a host collective");
  ncclUniqueId id{};
  if (host_->rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  const std::vector<std::byte> ids =
      host_->all_gather({reinterpret_cast<const std::byte*>(&id), sizeof id});
  std::memcpy(&id, ids.data(), sizeof id);  // rank 0's
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  const ncclResult_t init =
      ncclCommInitRankConfig(&state_->comm, host_->size(), id, host_->rank(), &config);
  if (failed(init))  // a communicator created in part is aborted, not leaked
    abort_and_throw(state_->comm,
                    std::string("ncclCommInitRankConfig: ") + ncclGetErrorString(init));
  wait(state_->comm, timeout_, host_->rank(), "joining the NCCL communicator");
}

NcclCollective::~NcclCollective() {
  if (state_->scratch) kernels::cuda::device_free(state_->scratch, state_->capacity);
  if (state_->comm) ncclCommDestroy(state_->comm);
}

std::vector<std::byte> NcclCollective::all_gather(std::span<const std::byte> mine) {
  if (!state_->comm) throw CollectiveError("NcclCollective: the communicator was aborted");
  const std::size_t n = mine.size(), all = n * static_cast<std::size_t>(size());
  if (state_->capacity < n + all) {  // from the caching allocator, which can empty its cache
    if (state_->scratch) kernels::cuda::device_free(state_->scratch, state_->capacity);
    state_->scratch = nullptr;
    state_->capacity = 0;
    try {
      state_->scratch = kernels::cuda::device_malloc(n + all);
    } catch (const std::runtime_error& e) {
      throw CollectiveError(std::string("a gather's device buffer: ") + e.what());
    }
    state_->capacity = n + all;
  }
  auto* base = static_cast<std::byte*>(state_->scratch);
  // A failure from here on leaves the other ranks waiting on this one: the communicator is
  // aborted, so that none of them (nor this rank's destructor) waits on it any more.
  const auto must = [&](bool ok, const std::string& what) {
    if (!ok) abort_and_throw(state_->comm, "rank " + std::to_string(rank()) + ": " + what);
  };
  const cudaError_t in = cudaMemcpy(base, mine.data(), n, cudaMemcpyHostToDevice);
  must(in == cudaSuccess, std::string("copy to the device: ") + cudaGetErrorString(in));
  const ncclResult_t gathered = ncclAllGather(base, base + n, n, ncclUint8, state_->comm, 0);
  must(!failed(gathered), std::string("ncclAllGather: ") + ncclGetErrorString(gathered));
  wait(state_->comm, timeout_, rank(), "a gather");
  std::vector<std::byte> out(all);
  const cudaError_t back = cudaMemcpy(out.data(), base + n, all, cudaMemcpyDeviceToHost);
  must(back == cudaSuccess, std::string("copy to the host: ") + cudaGetErrorString(back));
  return out;
}

std::vector<std::byte> NcclCollective::exchange(int peer, std::span<const std::byte> mine) {
  return host_->exchange(peer, mine);  // host bytes: the host transport carries them
}

Tensor NcclCollective::exchange_tensor(int peer, const Tensor& mine) {
  if (mine.device() != Device::cuda) return host_->exchange_tensor(peer, mine);
  if (!state_->comm) throw CollectiveError("NcclCollective: the communicator was aborted");
  Tensor theirs = empty(mine.shape(), mine.dtype(), Device::cuda);
  // The group is closed whatever the calls inside it return: a group left open would swallow
  // every later call on this thread.
  check_nccl(ncclGroupStart(), "ncclGroupStart");
  const ncclResult_t send =
      ncclSend(mine.raw_data(), mine.nbytes(), ncclUint8, peer, state_->comm, 0);
  const ncclResult_t receive = failed(send) ? ncclSuccess
                                            : ncclRecv(theirs.mutable_raw_data(), theirs.nbytes(),
                                                       ncclUint8, peer, state_->comm, 0);
  const ncclResult_t end = ncclGroupEnd();
  for (const auto& [result, what] : {std::pair{send, "ncclSend"}, std::pair{receive, "ncclRecv"},
                                     std::pair{end, "ncclGroupEnd"}})
    if (failed(result))  // the peer is left waiting: abort, as on a timeout
      abort_and_throw(state_->comm, "rank " + std::to_string(rank()) + ": " + what + ": " +
                                        ncclGetErrorString(result));
  wait(state_->comm, timeout_, rank(), "an exchange of gradients");
  return theirs;
}

}  // namespace flowtape::train
