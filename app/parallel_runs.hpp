// SPDX-License-Identifier: MIT
// run_parallel: the example programs' job runner. Runs body(i) for every i in [0, count) on
// `jobs` threads (each training uses its own thread's tape); the first exception stops handing
// out new work and is rethrown once every thread has joined. `report` serialises the progress
// lines the bodies print.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>

namespace flowtape::app {

void run_parallel(std::size_t count, unsigned jobs, const std::function<void(std::size_t)>& body);

// Runs `print` under a lock shared by all run_parallel bodies and flushes stdout.
void report(const std::function<void()>& print);

}  // namespace flowtape::app
