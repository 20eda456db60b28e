// SPDX-License-Identifier: MIT
// Threads for the CPU kernels: one process-wide setting, flowtape::set_num_threads(n), and a
// tiny persistent pool that runs a kernel's independent pieces (GEMM row or column blocks).
//
// Default: 1 thread, or FLOWTAPE_NUM_THREADS from the environment. One thread by default
// because the example programs already run one model per thread (each with its own Tape);
// a pool on top of that would oversubscribe the cores.
//
// The pool is shared by every thread of the process. A call that finds it busy (another
// thread's kernel, or a kernel called from inside a pool task) runs its tasks serially on the
// calling thread instead of waiting, so kernels stay safe to call from any number of threads
// and never deadlock.
#pragma once

#include <cstdint>

#include "flowtape/kernels/cpu/function_ref.hpp"

namespace flowtape {

// The most threads set_num_threads and FLOWTAPE_NUM_THREADS accept.
inline constexpr int kMaxThreads = 1024;

// n <= 0 means std::thread::hardware_concurrency(). Takes effect at the next kernel call.
// Throws std::invalid_argument above kMaxThreads.
void set_num_threads(int n);
int get_num_threads();

}  // namespace flowtape

namespace flowtape::kernels::cpu {

// Runs task(i) for i in [0, n) with up to get_num_threads() threads (the caller is one of
// them) and returns when all are done. The first exception thrown by a task is rethrown.
void parallel_for(std::int64_t n, FunctionRef<void(std::int64_t)> task);

// For its lifetime, this thread's parallel_for calls run serially on it. A thread that is
// itself one of several computing in parallel (a shard worker of the trainer) uses it, so its
// kernels do not also claim the pool's threads and oversubscribe the cores. Results are the
// same bits either way (the kernels do not split reductions by thread).
class SerialKernels {
 public:
  SerialKernels();
  ~SerialKernels();
  SerialKernels(const SerialKernels&) = delete;
  SerialKernels& operator=(const SerialKernels&) = delete;

 private:
  bool previous_;
};

}  // namespace flowtape::kernels::cpu
