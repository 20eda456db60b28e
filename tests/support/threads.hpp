// SPDX-License-Identifier: MIT
// Sets the kernels' thread count for a scope and puts it back to 1 (the default) however the
// scope ends, so a failing test cannot leave the suites after it on several threads.
#pragma once

#include "flowtape/kernels/cpu/parallel.hpp"

namespace flowtape::test {

struct ScopedThreads {
  explicit ScopedThreads(int n) { flowtape::set_num_threads(n); }
  ~ScopedThreads() { flowtape::set_num_threads(1); }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;
};

}  // namespace flowtape::test
