// SPDX-License-Identifier: MIT
// Data-parallel training (train/sharded_step.cpp, train/collective.hpp): with the same shard
// count, every way of running a step - one thread, several threads, 2 or 4 ranks - gives the
// same bits; the sharded step computes the same loss and gradient as the plain one (to
// rounding), the entropic weights being the whole batch's; ranks that disagree are refused and
// a lost rank is an error, not a hang.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <thread>

#include "train/support.hpp"

using namespace flowtape;
using namespace flowtape::train;
using namespace flowtape::train::test;

namespace {

// The objectives and variants the sharded step forms differently.
std::vector<std::pair<std::string, TrainSpec>> variants() {
  std::vector<std::pair<std::string, TrainSpec>> v;
  const auto add = [&](const std::string& name, TrainSpec c) {
    c.batch = 32;
    c.shards = 4;
    c.steps = 3;
    v.emplace_back(name, c);
  };
  add("cfm", small_config("cfm"));
  TrainSpec e = small_config("entropic");
  e.ramp_end = 0;
  e.lambda_max = 1.0;
  add("entropic batch", e);
  e.tilt = EntropicTilt::time_bins;
  e.tilt_bins = 3;
  add("entropic time_bins", e);
  e.tilt = EntropicTilt::late;
  add("entropic late", e);
  e.tilt = EntropicTilt::point;
  e.lambda_max = 0.2;
  e.efm_extra = 8;
  add("entropic point", e);
  add("fdm", small_config("fdm"));
  TrainSpec f = small_config("fdm");
  f.fdm_official = true;
  f.path = flows::PathKind::lipman;
  f.sigma = 0.1;
  add("fdm official, lipman", f);
  add("efm", small_config("efm"));
  TrainSpec x = small_config("fdm");
  x.exact_divergence = true;
  add("fdm exact divergence", x);
  TrainSpec ot = small_config("cfm");
  ot.coupling = Coupling::ot;
  add("cfm ot", ot);
  ot.path = flows::PathKind::independent;
  ot.sigma = 0.1;
  add("cfm ot, independent path", ot);
  TrainSpec ce = small_config("efm");
  ce.dataset = "8gaussians";
  ce.conditional = true;
  add("conditional efm", ce);
  TrainSpec cc = small_config("cfm");
  cc.dataset = "8gaussians";
  cc.conditional = true;
  add("conditional cfm", cc);
  return v;
}

// Trains `c` on `ranks` in-process ranks (one thread each) and returns rank 0's trainer.
std::unique_ptr<Trainer> train_on_ranks(const TrainSpec& c, int ranks) {
  auto group = LocalCollective::make(ranks, std::chrono::seconds(60));
  std::vector<std::unique_ptr<Trainer>> trainers;
  for (int r = 0; r < ranks; ++r) trainers.push_back(std::make_unique<Trainer>(c));
  std::vector<std::thread> threads;
  std::vector<std::string> errors(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      try {
        trainers[static_cast<std::size_t>(r)]->distribute(group[static_cast<std::size_t>(r)]);
        trainers[static_cast<std::size_t>(r)]->train();
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int r = 0; r < ranks; ++r)
    BOOST_REQUIRE_MESSAGE(errors[static_cast<std::size_t>(r)].empty(),
                          "rank " << r << ": " << errors[static_cast<std::size_t>(r)]);
  for (int r = 1; r < ranks; ++r)
    BOOST_REQUIRE(
        same_weights(trainers[0]->module(), trainers[static_cast<std::size_t>(r)]->module()));
  return std::move(trainers[0]);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sharded)

BOOST_AUTO_TEST_CASE(threads_and_ranks_give_the_bits_of_one_thread) {
  for (const auto& [name, c] : variants()) {
    BOOST_TEST_CONTEXT(name) {
      Trainer one(c);
      one.train();
      for (int threads : {2, 4}) {
        TrainSpec t = c;
        t.shard_threads = threads;
        Trainer many(t);
        many.train();
        BOOST_TEST(same_weights(one.module(), many.module()), threads << " threads");
      }
      for (int ranks : {2, 4}) {
        TrainSpec r = c;
        r.shard_threads = 2;  // threads inside ranks too
        BOOST_TEST(same_weights(one.module(), train_on_ranks(r, ranks)->module()),
                   ranks << " ranks");
      }
    }
  }
}

// The sharded step is the plain step's mathematics: the same loss and gradient norm to
// rounding. A per-shard entropic tilt (weights normalised within each shard) would miss the
// loss by far more than rounding at lambda = 1. (Draws a shard makes itself - Hutchinson
// probes, the independent path's noise - come from the shard's stream, so there only the
// CFM part is compared, or nothing.)
BOOST_AUTO_TEST_CASE(sharded_step_matches_the_plain_step) {
  const auto close = [](double a, double b) {
    return std::abs(a - b) <= 1e-4 * std::abs(a) + 1e-6;
  };
  for (const auto& [name, c] : variants()) {
    if (c.path == flows::PathKind::independent) continue;
    BOOST_TEST_CONTEXT(name) {
      TrainSpec plain = c;
      plain.shards = 1;
      Trainer a(plain), b(c);
      const StepReport ra = a.step(), rb = b.step();
      if (c.loss == Loss::fdm) BOOST_TEST(close(ra.cfm, rb.cfm), ra.cfm << " vs " << rb.cfm);
      if (c.loss == Loss::fdm && !c.exact_divergence) continue;
      BOOST_TEST(close(ra.loss, rb.loss), ra.loss << " vs " << rb.loss);
      BOOST_TEST(close(ra.grad_norm, rb.grad_norm), ra.grad_norm << " vs " << rb.grad_norm);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_checkpoint_resumes_on_another_rank_count) {
  Scratch scratch;
  TrainSpec c = variants().front().second;
  c.steps = 4;
  Trainer whole(c);
  whole.train();
  TrainSpec half = c;
  half.steps = 2;
  train_on_ranks(half, 2)->save(scratch / "half.safetensors");
  Trainer resumed(c);
  resumed.resume(scratch / "half.safetensors");
  resumed.distribute(LocalCollective::make(1).front());
  resumed.train();
  BOOST_TEST(same_weights(whole.module(), resumed.module()));
}

namespace {
// What distribute() says on ranks 0 and 1 built from specs a and b ("" when it accepts them).
std::pair<std::string, std::string> join_two(const TrainSpec& a, const TrainSpec& b) {
  auto group = LocalCollective::make(2, std::chrono::seconds(20));
  Trainer ta(a), tb(b);
  std::string ea, eb;
  std::thread t([&] {
    try {
      tb.distribute(group[1]);
    } catch (const CollectiveError& e) {
      eb = e.what();
    }
  });
  try {
    ta.distribute(group[0]);
  } catch (const CollectiveError& e) {
    ea = e.what();
  }
  t.join();
  return {ea, eb};
}
}  // namespace

BOOST_AUTO_TEST_CASE(ranks_that_disagree_are_refused) {
  TrainSpec c = variants().front().second;
  // What any rank computes or when it stops must agree; threads and evaluation need not.
  const auto changed = [&](auto change) {
    TrainSpec other = c;
    change(other);
    return join_two(c, other);
  };
  for (const auto& [what, errors] :
       {std::pair{"lr", changed([](TrainSpec& s) { s.lr *= 2; })},
        std::pair{"steps", changed([](TrainSpec& s) { s.steps += 1; })},
        std::pair{"schedule_steps", changed([](TrainSpec& s) { s.schedule_steps = 100; })},
        std::pair{"checkpoint_every", changed([](TrainSpec& s) { s.checkpoint_every = 2; })}}) {
    BOOST_TEST(errors.first.find("disagree on the training configuration") != std::string::npos,
               what << ": " << errors.first);
    BOOST_TEST(errors.first == errors.second);
  }
  const auto fine = changed([](TrainSpec& s) {
    s.shard_threads = 2;
    s.eval_samples = 17;
  });
  BOOST_TEST((fine.first.empty() && fine.second.empty()), fine.first);
  // A rank count that does not divide the shards.
  TrainSpec two = c;
  two.shards = 2;
  auto four = LocalCollective::make(4, std::chrono::seconds(20));
  std::vector<std::thread> ranks;
  std::vector<std::string> errors(4);
  for (int r = 0; r < 4; ++r)
    ranks.emplace_back([&, r] {
      Trainer tr(two);
      try {
        tr.distribute(four[static_cast<std::size_t>(r)]);
      } catch (const std::invalid_argument& e) {
        errors[static_cast<std::size_t>(r)] = e.what();
      }
    });
  for (auto& r : ranks) r.join();
  for (const auto& e : errors)
    BOOST_TEST(e.find("power of two dividing shards") != std::string::npos, e);
}

BOOST_AUTO_TEST_CASE(a_lost_rank_is_an_error_not_a_hang) {
  TrainSpec c = variants().front().second;
  auto group = LocalCollective::make(2, std::chrono::milliseconds(300));
  Trainer a(c), b(c);
  std::thread t([&] { b.distribute(group[1]); });
  a.distribute(group[0]);
  t.join();
  // Rank 1 never steps.
  const auto start = std::chrono::steady_clock::now();
  BOOST_CHECK_THROW(a.step(), CollectiveError);
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(waited < 10.0);
}

BOOST_AUTO_TEST_CASE(one_rank_stopping_stops_all_at_the_same_step) {
  TrainSpec c = variants().front().second;
  c.steps = 20;
  auto group = LocalCollective::make(2, std::chrono::seconds(60));
  Trainer a(c), b(c);
  TrainOutcome oa{}, ob{};
  std::thread t([&] {
    b.distribute(group[1]);
    ob = b.train({.stop = [&] { return b.steps_done() >= 5; }});
  });
  a.distribute(group[0]);
  oa = a.train();
  t.join();
  BOOST_TEST((oa == TrainOutcome::stopped && ob == TrainOutcome::stopped));
  BOOST_TEST(a.steps_done() == 5);
  BOOST_TEST(b.steps_done() == 5);
  BOOST_TEST(same_weights(a.module(), b.module()));
}

BOOST_AUTO_TEST_CASE(spec_checks) {
  TrainSpec c = small_config("cfm");
  c.shards = 3;
  BOOST_CHECK_THROW(validate(c), std::invalid_argument);
  c.shards = 64;  // does not divide batch 32
  BOOST_CHECK_THROW(validate(c), std::invalid_argument);
  c.shards = 4;
  c.shard_threads = 2;
  c.device = Device::cuda;  // one GPU, one thread
  BOOST_CHECK_THROW(validate(c), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
