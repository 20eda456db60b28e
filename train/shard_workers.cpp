// SPDX-License-Identifier: MIT
// The persistent threads of a sharded step; see shard_workers.hpp.
#include "flowtape/train/shard_workers.hpp"

#include <stdexcept>

#include "flowtape/kernels/cpu/cores.hpp"
#include "flowtape/kernels/cpu/parallel.hpp"
#include "flowtape/kernels/cpu/spin.hpp"

namespace flowtape::train {

using kernels::cpu::spin_until;

std::uint64_t ShardWorkers::Meeting::arrive(bool drop) {
  std::lock_guard<std::mutex> lk(m_);
  const std::uint64_t now = held_.load(std::memory_order_relaxed);
  if (drop) --expected_;
  if (--left_ == 0) {
    left_ = expected_;
    held_.fetch_add(1, std::memory_order_release);
    held_.notify_all();
  }
  return now;
}

void ShardWorkers::Meeting::arrive_and_wait() {
  const std::uint64_t now = arrive(false);
  const auto opened = [&] { return held_.load(std::memory_order_acquire) != now; };
  if (spin_until(opened, spin_)) return;
  while (!opened()) held_.wait(now, std::memory_order_acquire);
}

void ShardWorkers::Meeting::arrive_and_drop() {
  arrive(true);
}

ShardWorkers::ShardWorkers(int threads)
    : spin_(kernels::cpu::spin_budget(threads, kernels::cpu::usable_cores())) {
  if (threads < 1) throw std::invalid_argument("ShardWorkers: needs at least one thread");
  for (int w = 1; w < threads; ++w) threads_.emplace_back([this, w] { loop(w); });
}

ShardWorkers::~ShardWorkers() {
  {
    std::lock_guard<std::mutex> lk(m_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

bool ShardWorkers::Sync::wait() {
  owner_->meeting_->arrive_and_wait();
  return !owner_->failed_.load();
}

void ShardWorkers::work(int worker) {
  Sync sync;
  sync.owner_ = this;
  try {
    (*job_)(worker, sync);
    meeting_->arrive_and_drop();
  } catch (...) {
    {
      std::lock_guard<std::mutex> lk(m_);
      if (!error_) error_ = std::current_exception();
    }
    failed_.store(true);
    meeting_->arrive_and_drop();
  }
}

void ShardWorkers::run(const std::function<void(int, Sync&)>& job) {
  {
    std::lock_guard<std::mutex> lk(m_);
    job_ = &job;
    error_ = nullptr;
    failed_.store(false);
    meeting_.emplace(size(), spin_);
    running_.store(size() - 1);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  {
    // With helpers the caller is one worker among several: its kernels run serially too.
    std::optional<kernels::cpu::SerialKernels> serial;
    if (size() > 1) serial.emplace();
    work(0);
  }
  const auto finished = [&] { return running_.load(std::memory_order_acquire) == 0; };
  if (!spin_until(finished, spin_)) {
    std::unique_lock<std::mutex> lk(m_);
    done_.wait(lk, finished);
  }
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

void ShardWorkers::loop(int worker) {
  kernels::cpu::SerialKernels serial;
  std::uint64_t seen = 0;
  while (true) {
    spin_until([&] { return generation_.load(std::memory_order_acquire) != seen || stop_.load(); },
               spin_);
    {
      std::unique_lock<std::mutex> lk(m_);
      wake_.wait(lk, [&] { return stop_.load() || generation_.load() != seen; });
      if (stop_.load()) return;
      seen = generation_.load();
    }
    work(worker);
    if (running_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lk(m_);
      done_.notify_all();
    }
  }
}

}  // namespace flowtape::train
