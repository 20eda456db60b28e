// SPDX-License-Identifier: MIT
// The threads under a sharded step (train/shard_workers.hpp, train/collective.hpp), on their
// own so ThreadSanitizer can run them (scripts/tsan.sh): the workers' two-phase job with a
// barrier, a failing worker that must not strand the others, and in-process ranks whose
// cross-rank tree gives exactly the bits of one tree over every shard.
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

#include "flowtape/train/collective.hpp"
#include "flowtape/train/shard_workers.hpp"

using namespace flowtape;
using namespace flowtape::train;

BOOST_AUTO_TEST_SUITE(workers)

BOOST_AUTO_TEST_CASE(two_phases_meet_at_the_barrier) {
  for (int threads : {1, 2, 3}) {
    ShardWorkers workers(threads);
    for (int job = 0; job < 200; ++job) {
      std::vector<long> mine(static_cast<std::size_t>(threads), 0), seen(mine.size(), 0);
      long total = 0;
      workers.run([&](int w, ShardWorkers::Sync& sync) {
        mine[static_cast<std::size_t>(w)] = job * 10 + w;
        if (!sync.wait()) return;
        if (w == 0)
          for (long v : mine) total += v;
        if (!sync.wait()) return;
        seen[static_cast<std::size_t>(w)] = total;
      });
      long expect = 0;
      for (int w = 0; w < threads; ++w) expect += job * 10 + w;
      for (long s : seen) BOOST_REQUIRE_EQUAL(s, expect);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_failing_worker_does_not_strand_the_others) {
  ShardWorkers workers(3);
  for (int failing = 0; failing < 3; ++failing) {
    BOOST_CHECK_THROW(workers.run([&](int w, ShardWorkers::Sync& sync) {
      if (w == failing) throw std::runtime_error("worker failed");
      if (!sync.wait()) return;
      sync.wait();
    }),
                      std::runtime_error);
  }
  // And the workers still run the next job.
  int ran = 0;
  workers.run([&](int w, ShardWorkers::Sync&) {
    if (w == 0) ran = 1;
  });
  BOOST_TEST(ran == 1);
}

// Random floats whose sum depends on the order of addition: the cross-rank tree must match
// one process's tree over all the shards bit for bit, for 1, 2 and 4 ranks.
BOOST_AUTO_TEST_CASE(ranks_finish_the_tree_of_one_process) {
  const int shards = 8;
  const std::int64_t n = 1000;
  std::mt19937 rng(5);
  std::lognormal_distribution<float> mag(0.0f, 4.0f);
  std::vector<Tensor> blocks;
  std::vector<float> serial(n, 0.0f);  // summed in order: other bits (else the test could not fail)
  for (int k = 0; k < shards; ++k) {
    std::vector<float> b(n);
    for (std::size_t j = 0; j < b.size(); ++j) {
      b[j] = mag(rng) * (rng() % 2 ? 1.0f : -1.0f);
      serial[j] += b[j];
    }
    blocks.push_back(from_vector(b, Shape{n}));
  }
  const Tensor whole = tree_sum(blocks);
  const auto bytes = static_cast<std::size_t>(n) * sizeof(float);
  BOOST_REQUIRE(std::memcmp(serial.data(), whole.raw_data(), bytes) != 0);

  for (int ranks : {1, 2, 4}) {
    auto group = LocalCollective::make(ranks, std::chrono::seconds(60));
    std::vector<Tensor> results(static_cast<std::size_t>(ranks));
    std::vector<std::thread> threads;
    for (int r = 0; r < ranks; ++r)
      threads.emplace_back([&, r] {
        const int per = shards / ranks;
        const std::vector<Tensor> mine(blocks.begin() + r * per, blocks.begin() + (r + 1) * per);
        results[static_cast<std::size_t>(r)] =
            all_reduce_tree(*group[static_cast<std::size_t>(r)], tree_sum(mine));
      });
    for (auto& t : threads) t.join();
    for (const Tensor& res : results)
      BOOST_TEST(std::memcmp(res.raw_data(), whole.raw_data(), bytes) == 0, ranks << " ranks");
  }
}

BOOST_AUTO_TEST_CASE(gather_in_rank_order) {
  auto group = LocalCollective::make(3, std::chrono::seconds(60));
  std::vector<std::vector<double>> got(3);
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r)
    threads.emplace_back([&, r] {
      for (int round = 0; round < 50; ++round) {
        const double mine[2] = {double(r), double(round)};
        got[static_cast<std::size_t>(r)] =
            all_gather_values(*group[static_cast<std::size_t>(r)], mine);
      }
    });
  for (auto& t : threads) t.join();
  for (const auto& g : got) BOOST_TEST((g == std::vector<double>{0, 49, 1, 49, 2, 49}));
}

BOOST_AUTO_TEST_SUITE_END()
