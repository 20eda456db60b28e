// SPDX-License-Identifier: MIT
// The persistent thread pool behind parallel_for (see parallel.hpp for the policy).
//
// A job lives on the caller's stack: the task, the index count and an atomic next-index
// counter that the caller and the workers drain together. The caller never waits for a worker
// that has not attached yet: it works through the indices itself, detaches the job, and then
// waits only for the workers that attached (and may still run a claimed index). On a loaded
// machine a sleeping worker may take milliseconds to be scheduled; waiting for it would turn
// the second thread into a slowdown.
//
// A worker that finishes a job spins for kSpin (spin.hpp) before it sleeps on the condition
// variable, and the caller spins as long for attached workers to finish before it sleeps: a
// training step issues its kernels microseconds apart, and waking a sleeping thread took ~10 us, as
// long as the whole kernel at batch 256 (the reason the thresholds in gemm.cpp and elementwise.hpp
// were set high). OpenMP runtimes spin the same way (GOMP_SPINCOUNT). Both spin only while the job
// has no more threads than the process's cores (usable_cores, cores.hpp); beyond that they block
// at once, since a spinning thread would hold the core another one needs.
#include "flowtape/kernels/cpu/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "flowtape/kernels/cpu/cores.hpp"
#include "flowtape/kernels/cpu/spin.hpp"

namespace flowtape {
namespace {

using Task = kernels::cpu::FunctionRef<void(std::int64_t)>;

// FLOWTAPE_NUM_THREADS, read strictly: a whole number in [1, kMaxThreads]. Anything else
// ("8cores", "1e3", "four") is reported once on stderr and ignored, rather than read as some
// other count; this runs before main, where there is no caller to throw to.
int default_threads() {
  const char* e = std::getenv("FLOWTAPE_NUM_THREADS");
  if (!e || !*e) return 1;
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(e, &end, 10);
  if (errno == 0 && *end == '\0' && n >= 1 && n <= kMaxThreads) return static_cast<int>(n);
  std::fprintf(stderr,
               "flowtape: ignoring FLOWTAPE_NUM_THREADS='%.32s' (expected a whole number of "
               "threads in [1, %d]); using 1\n",
               e, kMaxThreads);
  return 1;
}

std::atomic<int> g_threads{default_threads()};

struct Job {
  Job(const Task* t, std::int64_t n, int helpers) : task(t), count(n), max_users(helpers) {}
  const Task* task;
  std::int64_t count;
  int max_users;  // at most this many workers attach: the thread count less the caller
  std::atomic<std::int64_t> next{0};
  std::atomic<int> users{0};  // attached workers: incremented under the pool's mutex
  std::exception_ptr error;
};

// Set while this thread runs a pool task (a worker always): a parallel_for called from a task
// runs serially, without touching the pool's locks, which the caller's own thread may hold.
thread_local bool t_in_task = false;

class Pool {
 public:
  static Pool& instance() {
    static Pool pool;
    return pool;
  }

  void run(std::int64_t n, const Task& task, int threads) {
    // A nested call from a task (tested first: its thread may hold busy_), or another
    // thread's job under way: run serially.
    std::unique_lock<std::mutex> busy(busy_, std::defer_lock);
    if (t_in_task || !busy.try_lock()) {
      for (std::int64_t i = 0; i < n; ++i) task(i);
      return;
    }
    Job job(&task, n, threads - 1);
    const auto spin = kernels::cpu::spin_budget(threads, cores_);  // none past the cores
    {
      std::lock_guard<std::mutex> lk(m_);
      grow(threads - 1);
      spinners_.store(spin.count() > 0 ? threads - 1 : 0, std::memory_order_relaxed);
      job_ = &job;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    t_in_task = true;
    drain(job);
    t_in_task = false;
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = nullptr;  // workers attaching from now on find nothing to do
    }
    const auto detached = [&] { return job.users.load(std::memory_order_acquire) == 0; };
    if (!kernels::cpu::spin_until(detached, spin)) {
      std::unique_lock<std::mutex> lk(m_);
      done_.wait(lk, detached);
    }
    if (job.error) std::rethrow_exception(job.error);
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
      stopping_.store(true);
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

 private:
  // Called with m_ held.
  void grow(int wanted) {
    while (static_cast<int>(workers_.size()) < wanted) {
      const int index = static_cast<int>(workers_.size());
      workers_.emplace_back([this, index] { loop(index); });
    }
  }

  // Takes indices until none are left; records the first exception.
  void drain(Job& job) {
    for (std::int64_t i; (i = job.next.fetch_add(1)) < job.count;) {
      try {
        (*job.task)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lk(m_);
        if (!job.error) job.error = std::current_exception();
      }
    }
  }

  // Worker `index` (0-based). Only the workers the latest job could use spin; the others (the
  // thread count was lowered) go straight back to sleep.
  void loop(int index) {
    t_in_task = true;
    std::uint64_t seen = 0;
    while (true) {
      if (index < spinners_.load(std::memory_order_relaxed))
        kernels::cpu::spin_until(
            [&] {
              return generation_.load(std::memory_order_acquire) != seen ||
                     stopping_.load(std::memory_order_relaxed);
            },
            kernels::cpu::kSpin);
      std::unique_lock<std::mutex> lk(m_);
      wake_.wait(lk, [&] { return stop_ || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
      Job* job = job_;
      // That job was over before this worker got to it, or has all the workers it may use.
      if (!job || job->users.load() >= job->max_users) continue;
      job->users.fetch_add(1);
      lk.unlock();
      drain(*job);
      // The job may be gone once users reaches 0 (it lives on the caller's stack); the
      // notification takes the mutex so that a caller about to block cannot miss it.
      if (job->users.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> done_lk(m_);
        done_.notify_all();
      }
    }
  }

  std::mutex busy_;  // held by the caller for a whole job
  std::mutex m_;     // guards the fields below and the attaching of workers to a job
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  Job* job_ = nullptr;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> spinners_{0};  // workers that spin between jobs: the latest job's helpers
  const int cores_ = kernels::cpu::usable_cores();
  bool stop_ = false;
  std::atomic<bool> stopping_{false};  // stop_, readable while spinning
};

}  // namespace

void set_num_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (n > kMaxThreads)
    throw std::invalid_argument("set_num_threads: " + std::to_string(n) + " threads; at most " +
                                std::to_string(kMaxThreads));
  g_threads.store(n);
}

int get_num_threads() {
  return g_threads.load();
}

}  // namespace flowtape

namespace flowtape::kernels::cpu {

SerialKernels::SerialKernels() : previous_(t_in_task) {
  t_in_task = true;
}
SerialKernels::~SerialKernels() {
  t_in_task = previous_;
}

void parallel_for(std::int64_t n, FunctionRef<void(std::int64_t)> task) {
  const int threads = get_num_threads();
  if (threads <= 1 || n <= 1 || t_in_task) {
    for (std::int64_t i = 0; i < n; ++i) task(i);
    return;
  }
  Pool::instance().run(n, task, threads);
}

}  // namespace flowtape::kernels::cpu
