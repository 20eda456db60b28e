// SPDX-License-Identifier: MIT
// How many cores this process may use: the smaller of its affinity mask (taskset, mpirun's
// binding) and its cgroup's CPU quota (a container's --cpus), which the mask does not show.
// The kernels' pool and the trainer's shard workers poll while they wait only when every
// thread has a core of its own (spin.hpp): a spinning thread on a shared core holds up the
// thread it waits for.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace flowtape::kernels::cpu {

// The cores this process may use now, at least 1.
int usable_cores();

// The whole cores a cgroup quota allows, rounded up (a quota of 1.5 cores lets two threads
// run at once, part of the time), or nothing where the text sets no limit or cannot be read.
// cgroup v2's cpu.max holds "QUOTA PERIOD" or "max PERIOD"; for cgroup v1 pass the contents
// of cpu.cfs_quota_us and cpu.cfs_period_us joined by a space (a quota of -1: no limit).
std::optional<int> cores_of_cpu_quota(std::string_view quota_and_period);

// The tightest cgroup v2 quota on the way from cgroup `path` (the "0::" line of
// /proc/self/cgroup) up to the hierarchy's `root`: a parent's limit binds its children, while
// a leaf's own cpu.max usually says "max". `read` gives a file's contents, empty where it has
// none.
std::optional<int> least_cgroup_quota(std::string_view root, std::string_view path,
                                      std::string (*read)(const std::string& file));

}  // namespace flowtape::kernels::cpu
