// SPDX-License-Identifier: MIT
// ShardWorkers: a few persistent threads that run one job per training step together, the
// caller being worker 0. A sharded step needs its workers to meet twice (after the forward
// passes, so the loss over the whole batch can be formed, and after the backward ones), and a
// thread keeps its tape between the two: so the job is one function per worker with a
// barrier (Sync::wait) inside, not a parallel loop.
//
// Workers spin for a millisecond between jobs and at the step's meetings before sleeping, as
// the kernels' pool does: the steps come a millisecond or less apart, and a futex wake-up per
// step would cost more than the shards save at small batches. They spin only where every
// worker has a core of the process's own (usable_cores): with more workers than cores a spinning
// worker holds the core the one it waits for needs (four workers on two cores ran ten times
// slower than two). Each worker's kernels run serially on it (SerialKernels).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace flowtape::train {

class ShardWorkers {
 public:
  // threads >= 1: the caller and threads - 1 started here.
  explicit ShardWorkers(int threads);
  ~ShardWorkers();
  ShardWorkers(const ShardWorkers&) = delete;
  ShardWorkers& operator=(const ShardWorkers&) = delete;

  int size() const { return static_cast<int>(threads_.size()) + 1; }

  class Sync {
   public:
    // Waits for every worker to get here. False when a worker has failed: return then.
    bool wait();

   private:
    friend class ShardWorkers;
    ShardWorkers* owner_ = nullptr;
  };
  // Runs job(w, sync) for every worker w (0 on the calling thread) and returns when all are
  // done; rethrows the first exception a worker threw. A worker that throws leaves the
  // barrier, so the others are not stranded at it.
  void run(const std::function<void(int worker, Sync& sync)>& job);

 private:
  void loop(int worker);
  void work(int worker);

  std::chrono::microseconds spin_;  // how long a wait polls before it sleeps (see above)
  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable wake_, done_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> running_{0};
  std::atomic<bool> stop_{false}, failed_{false};
  const std::function<void(int, Sync&)>* job_ = nullptr;
  // The meeting point of Sync::wait: spins up to `spin` before it blocks, as the workers do
  // between jobs. std::barrier put a waiting worker to sleep within microseconds, and a futex
  // wake-up costs about as much as a whole phase of a small step.
  class Meeting {
   public:
    Meeting(int count, std::chrono::microseconds spin)
        : expected_(count), left_(count), spin_(spin) {}
    void arrive_and_wait();
    void arrive_and_drop();  // counts as arriving now, and leaves the later meetings

   private:
    // Counts one arrival; the last opens the next meeting. The meeting arrived at.
    std::uint64_t arrive(bool drop);
    std::mutex m_;
    int expected_, left_;
    std::chrono::microseconds spin_;
    std::atomic<std::uint64_t> held_{0};  // meetings opened so far
  };
  std::optional<Meeting> meeting_;
  std::exception_ptr error_;
};

}  // namespace flowtape::train
