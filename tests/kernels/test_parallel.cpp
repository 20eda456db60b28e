// SPDX-License-Identifier: MIT
// The thread pool behind parallel_for: every index runs exactly once, whether the workers are
// spinning (calls back to back) or asleep (calls far apart); a task's exception reaches the
// caller and leaves the pool usable; nested and concurrent calls finish (they run serially);
// a job uses no more threads than get_num_threads() says. usable_cores reads the affinity mask
// and the cgroup quota.
#include <sched.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "flowtape/kernels/cpu/cores.hpp"
#include "flowtape/kernels/cpu/parallel.hpp"
#include "support/threads.hpp"

using flowtape::kernels::cpu::parallel_for;
using flowtape::test::ScopedThreads;

namespace {

// Runs parallel_for over n indices and checks each ran once.
void check_once(std::int64_t n) {
  std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
  parallel_for(n, [&](std::int64_t i) { hits[static_cast<std::size_t>(i)].fetch_add(1); });
  int wrong = 0;
  for (const auto& h : hits) wrong += h.load() != 1;
  BOOST_TEST(wrong == 0, "n=" << n);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(parallel)

BOOST_AUTO_TEST_CASE(every_index_runs_once) {
  for (const int threads : {2, 3}) {
    const ScopedThreads scope(threads);
    for (int round = 0; round < 200; ++round) check_once(1 + round % 37);  // workers spinning
    for (int round = 0; round < 5; ++round) {  // workers gone to sleep in between
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      check_once(64);
    }
  }
}

BOOST_AUTO_TEST_CASE(exceptions_reach_the_caller) {
  const ScopedThreads scope(2);
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> ran{0};
    BOOST_CHECK_THROW(parallel_for(8,
                                   [&](std::int64_t i) {
                                     ran.fetch_add(1);
                                     if (i == 3) throw std::runtime_error("task 3");
                                   }),
                      std::runtime_error);
    BOOST_TEST(ran.load() == 8);  // the other tasks still ran
    check_once(16);               // and the pool still works
  }
}

BOOST_AUTO_TEST_CASE(nested_and_concurrent_calls_finish) {
  const ScopedThreads scope(2);
  std::atomic<int> inner{0};
  parallel_for(4,
               [&](std::int64_t) { parallel_for(5, [&](std::int64_t) { inner.fetch_add(1); }); });
  BOOST_TEST(inner.load() == 20);
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c)
    callers.emplace_back([&] {
      for (int round = 0; round < 100; ++round)
        parallel_for(6, [&](std::int64_t i) { total.fetch_add(i); });
    });
  for (auto& t : callers) t.join();
  BOOST_TEST(total.load() == 3L * 100 * 15);
}

// Lowering the thread count after the pool has grown must lower the threads a job uses: the
// extra workers stay out of it.
BOOST_AUTO_TEST_CASE(a_lower_thread_count_is_respected) {
  {
    const ScopedThreads three(3);
    check_once(64);  // the pool now has two workers
  }
  const ScopedThreads two(2);
  for (int round = 0; round < 200; ++round) {
    std::mutex m;
    std::set<std::thread::id> ids;
    parallel_for(16, [&](std::int64_t) {
      std::this_thread::sleep_for(std::chrono::microseconds(20));  // time for every worker
      const std::lock_guard<std::mutex> lk(m);
      ids.insert(std::this_thread::get_id());
    });
    BOOST_TEST_REQUIRE(ids.size() <= 2u, "round " << round << ": " << ids.size() << " threads");
  }
}

// parallel_for takes its task as a FunctionRef: an lvalue, a const one, a callable whose result
// is dropped, and a std::function all work, on one thread and on several.
// More threads than kMaxThreads is refused, not tried (thousands of threads would be started
// at the first large map); the setting is left as it was.
BOOST_AUTO_TEST_CASE(a_thread_count_past_the_limit_is_refused) {
  const int before = flowtape::get_num_threads();
  BOOST_CHECK_THROW(flowtape::set_num_threads(flowtape::kMaxThreads + 1), std::invalid_argument);
  BOOST_TEST(flowtape::get_num_threads() == before);
}

BOOST_AUTO_TEST_CASE(tasks_of_any_callable_kind) {
  for (const int threads : {1, 2}) {
    const ScopedThreads scope(threads);
    std::atomic<std::int64_t> sum{0};
    auto lvalue = [&](std::int64_t i) { sum += i; };
    const auto const_lvalue = [&](std::int64_t i) { sum += 10 * i; };
    const std::function<void(std::int64_t)> function = [&](std::int64_t i) { sum += 100 * i; };
    parallel_for(4, lvalue);
    parallel_for(4, const_lvalue);
    parallel_for(4, function);
    parallel_for(4, [&](std::int64_t i) { return sum += 1000 * i; });  // returns a value
    BOOST_TEST(sum.load() == 6 * 1111);
  }
}

BOOST_AUTO_TEST_CASE(cgroup_quota_texts) {
  using flowtape::kernels::cpu::cores_of_cpu_quota;
  BOOST_TEST(cores_of_cpu_quota("max 100000\n").has_value() == false);  // v2, no limit
  BOOST_TEST(cores_of_cpu_quota("200000 100000\n").value() == 2);
  BOOST_TEST(cores_of_cpu_quota("150000 100000").value() == 2);  // 1.5 cores: two run at once
  BOOST_TEST(cores_of_cpu_quota("50000 100000").value() == 1);
  BOOST_TEST(cores_of_cpu_quota("-1\n 100000\n").has_value() == false);  // v1, no limit
  BOOST_TEST(cores_of_cpu_quota("400000\n 100000\n").value() == 4);
  BOOST_TEST(cores_of_cpu_quota("9223372036854775807 1").value() == 1 << 20);  // no overflow
  for (const char* bad : {"", "100000", "abc 100000", "100000 0", "100000 x", "1e5 100000"})
    BOOST_TEST(cores_of_cpu_quota(bad).has_value() == false, bad);
}

namespace {
// A cgroup v2 tree: a slice limited to 2 cores, a scope in it without a limit of its own, and
// the process's leaf, which says "max" as leaves usually do.
std::string fake_cgroup_file(const std::string& file) {
  if (file == "/cg/cpu.max") return "max 100000\n";
  if (file == "/cg/work.slice/cpu.max") return "200000 100000\n";
  if (file == "/cg/work.slice/job.scope/leaf/cpu.max") return "max 100000\n";
  if (file == "/cg/tight/cpu.max") return "100000 100000\n";
  if (file == "/cg/tight/loose/cpu.max") return "800000 100000\n";
  return "";
}
}  // namespace

// The quota binds from any level above the process: the leaf's "max" no longer hides the
// slice's 2 cores, and the tightest level wins.
BOOST_AUTO_TEST_CASE(cgroup_quota_of_the_ancestors) {
  using flowtape::kernels::cpu::least_cgroup_quota;
  BOOST_TEST(least_cgroup_quota("/cg", "/work.slice/job.scope/leaf", fake_cgroup_file).value() ==
             2);
  BOOST_TEST(least_cgroup_quota("/cg", "/tight/loose/", fake_cgroup_file).value() == 1);
  BOOST_TEST(least_cgroup_quota("/cg", "/", fake_cgroup_file).has_value() == false);
  BOOST_TEST(least_cgroup_quota("/cg", "/elsewhere", fake_cgroup_file).has_value() == false);
}

BOOST_AUTO_TEST_CASE(usable_cores_follow_the_affinity_mask) {
  const int all = flowtape::kernels::cpu::usable_cores();
  BOOST_TEST(all >= 1);
  cpu_set_t before;
  CPU_ZERO(&before);
  BOOST_REQUIRE(sched_getaffinity(0, sizeof before, &before) == 0);
  BOOST_TEST(all <= CPU_COUNT(&before));
  int first = 0;
  while (!CPU_ISSET(first, &before)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  BOOST_REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
  const int pinned = flowtape::kernels::cpu::usable_cores();
  sched_setaffinity(0, sizeof before, &before);
  BOOST_TEST(pinned == 1);
}

BOOST_AUTO_TEST_SUITE_END()
