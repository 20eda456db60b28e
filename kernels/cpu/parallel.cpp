// The persistent thread pool behind parallel_for (see parallel.hpp for the policy).
//
// A job lives on the caller's stack: the task, the index count and an atomic next-index
// counter that the caller and the workers drain together. Workers sleep on a condition
// variable and attach to the current job when they wake. The caller never waits for a worker
// that has not woken yet: it works through the indices itself, detaches the job, and then
// waits only for the workers that attached (and may still run a claimed index). On a loaded
// machine a sleeping worker may take milliseconds to be scheduled; waiting for it would turn
// the second thread into a slowdown.
#include "kernels/cpu/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace flowtape {
namespace {

int default_threads() {
  if (const char* e = std::getenv("FLOWTAPE_NUM_THREADS")) {
    const int n = std::atoi(e);
    if (n > 0) return n;
  }
  return 1;
}

std::atomic<int> g_threads{default_threads()};

struct Job {
  Job(const std::function<void(std::int64_t)>* t, std::int64_t n) : task(t), count(n) {}
  const std::function<void(std::int64_t)>* task;
  std::int64_t count;
  std::atomic<std::int64_t> next{0};
  int users = 0;  // attached workers; guarded by the pool's mutex
  std::exception_ptr error;
};

class Pool {
 public:
  static Pool& instance() {
    static Pool pool;
    return pool;
  }

  void run(std::int64_t n, const std::function<void(std::int64_t)>& task, int threads) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) {  // another thread's job, or a nested call from a task
      for (std::int64_t i = 0; i < n; ++i) task(i);
      return;
    }
    Job job(&task, n);
    {
      std::lock_guard<std::mutex> lk(m_);
      grow(threads - 1);
      job_ = &job;
      ++generation_;
    }
    wake_.notify_all();
    drain(job);
    {
      std::unique_lock<std::mutex> lk(m_);
      job_ = nullptr;  // workers waking from now on find nothing to do
      done_.wait(lk, [&] { return job.users == 0; });
    }
    if (job.error) std::rethrow_exception(job.error);
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

 private:
  // Called with m_ held.
  void grow(int wanted) {
    while (static_cast<int>(workers_.size()) < wanted) workers_.emplace_back([this] { loop(); });
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

  void loop() {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(m_);
    while (true) {
      wake_.wait(lk, [&] { return stop_ || (job_ && generation_ != seen); });
      if (stop_) return;
      seen = generation_;
      Job* job = job_;
      ++job->users;
      lk.unlock();
      drain(*job);
      lk.lock();
      if (--job->users == 0) done_.notify_all();
    }
  }

  std::mutex busy_;  // held by the caller for a whole job
  std::mutex m_;     // guards the fields below and Job::users
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  Job* job_ = nullptr;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace

void set_num_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  g_threads.store(n);
}

int get_num_threads() {
  return g_threads.load();
}

}  // namespace flowtape

namespace flowtape::kernels::cpu {

void parallel_for(std::int64_t n, const std::function<void(std::int64_t)>& task) {
  const int threads = get_num_threads();
  if (threads <= 1 || n <= 1) {
    for (std::int64_t i = 0; i < n; ++i) task(i);
    return;
  }
  Pool::instance().run(n, task, threads);
}

}  // namespace flowtape::kernels::cpu
