// SPDX-License-Identifier: MIT
// The example programs' job runner; see parallel_runs.hpp.
#include "app/parallel_runs.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <thread>
#include <vector>

namespace flowtape::app {

namespace {
std::mutex g_print_mutex;
}

void report(const std::function<void()>& print) {
  std::lock_guard lock(g_print_mutex);
  print();
  std::fflush(stdout);
}

void run_parallel(std::size_t count, unsigned jobs, const std::function<void(std::size_t)>& body) {
  std::atomic<std::size_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  auto worker = [&] {
    for (std::size_t i; (i = next++) < count;) {
      try {
        body(i);
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = count;
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned k = 0; k < std::max(jobs, 1u); ++k) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace flowtape::app
