// SPDX-License-Identifier: MIT
// usable_cores: the affinity mask and the cgroup CPU quota (cores.hpp).
#include "flowtape/kernels/cpu/cores.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace flowtape::kernels::cpu {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The quota of this process's cgroup: v2 (the tightest cpu.max from the path on the "0::" line
// of /proc/self/cgroup up to /sys/fs/cgroup, where a container mounts its own cgroup), else v1
// (the cpu controller's cfs files).
std::optional<int> cgroup_cores() {
  std::istringstream lines(read_file("/proc/self/cgroup"));
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("0::", 0) == 0) {
      if (const std::optional<int> v2 =
              least_cgroup_quota("/sys/fs/cgroup", line.substr(3), read_file))
        return v2;
      break;
    }
  for (const char* dir : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"}) {
    const std::string quota = read_file(std::string(dir) + "/cpu.cfs_quota_us");
    const std::string period = read_file(std::string(dir) + "/cpu.cfs_period_us");
    if (!quota.empty() && !period.empty()) return cores_of_cpu_quota(quota + " " + period);
  }
  return std::nullopt;
}

int count_usable_cores() {  // (read afresh: a program may change its mask)
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = std::max(1, CPU_COUNT(&set));
  if (const std::optional<int> quota = cgroup_cores()) cores = std::min(cores, *quota);
#endif
  return cores;
}

// The next whitespace-separated word of text from at, as a long long (nothing if it is not
// one, whole).
std::optional<long long> next_number(std::string_view text, std::size_t& at) {
  while (at < text.size() && (text[at] == ' ' || text[at] == '\n' || text[at] == '\t')) ++at;
  std::size_t end = at;
  while (end < text.size() && text[end] != ' ' && text[end] != '\n' && text[end] != '\t') ++end;
  long long value = 0;
  const auto [stop, error] = std::from_chars(text.data() + at, text.data() + end, value);
  const bool whole = error == std::errc() && stop == text.data() + end && end > at;
  at = end;
  if (!whole) return std::nullopt;
  return value;
}

}  // namespace

std::optional<int> least_cgroup_quota(std::string_view root, std::string_view path,
                                      std::string (*read)(const std::string& file)) {
  std::optional<int> least;
  std::string dir(path);
  while (true) {
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    const std::string folder = std::string(root) + (dir == "/" ? "" : dir);
    if (const std::optional<int> q = cores_of_cpu_quota(read(folder + "/cpu.max")))
      least = least ? std::min(*least, *q) : *q;
    if (dir.empty() || dir == "/") break;
    const auto slash = dir.find_last_of('/');
    dir = slash == std::string::npos || slash == 0 ? "/" : dir.substr(0, slash);
  }
  return least;
}

std::optional<int> cores_of_cpu_quota(std::string_view quota_and_period) {
  std::size_t at = 0;
  const std::optional<long long> quota = next_number(quota_and_period, at);  // "max", -1: none
  const std::optional<long long> period = next_number(quota_and_period, at);
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  const long long cores = *quota / *period + (*quota % *period != 0 ? 1 : 0);
  return static_cast<int>(std::min<long long>(cores, 1 << 20));
}

int usable_cores() {
  return count_usable_cores();
}

}  // namespace flowtape::kernels::cpu
