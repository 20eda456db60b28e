// SPDX-License-Identifier: MIT
// Thread safety: each thread has its own tape, so two Trainers on two threads at once must
// give the same bits as the same two runs one after the other. To check for data races too:
//   cmake -S . -B build-tsan -DFLOWTAPE_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS=-fsanitize=thread
//         -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread
//   cmake --build build-tsan --target app_tests && build-tsan/tests/app_tests --run_test=threads
// (clean with GCC 12's TSan: the tape state is thread_local, the global counters atomic).
#include <boost/test/unit_test.hpp>
#include <thread>

#include "train/support.hpp"

using namespace flowtape;
using namespace flowtape::train;
using namespace flowtape::train::test;

BOOST_AUTO_TEST_SUITE(threads)

BOOST_AUTO_TEST_CASE(two_trainers_in_two_threads_match_sequential_runs) {
  // Different objectives, so the threads run different op mixes (fdm uses forward mode).
  TrainSpec a = small_config("cfm", 11), b = small_config("fdm", 12);
  a.steps = b.steps = 20;
  Trainer seq_a(a), seq_b(b);
  seq_a.train();
  seq_b.train();

  Trainer par_a(a), par_b(b);
  std::exception_ptr error_a, error_b;
  std::thread ta([&] {
    try {
      par_a.train();
    } catch (...) {
      error_a = std::current_exception();
    }
  });
  std::thread tb([&] {
    try {
      par_b.train();
    } catch (...) {
      error_b = std::current_exception();
    }
  });
  ta.join();
  tb.join();
  if (error_a) std::rethrow_exception(error_a);
  if (error_b) std::rethrow_exception(error_b);
  BOOST_TEST(same_weights(par_a.module(), seq_a.module()));
  BOOST_TEST(same_weights(par_b.module(), seq_b.module()));
  BOOST_TEST(!same_weights(par_a.module(), par_b.module()));  // the comparison can fail
}

BOOST_AUTO_TEST_SUITE_END()
