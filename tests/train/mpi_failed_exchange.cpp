// SPDX-License-Identifier: MIT
// Run by tests/app/mpi_test.sh as `mpirun -n 2 mpi_failed_exchange`: after an exchange that
// timed out, an MpiCollective refuses every later call (MPI may still hold requests on the
// failed call's buffers, and the ranks no longer agree on where they are).
//
// Rank 1 arrives late, after rank 0's 0.3 s timeout; rank 0 checks that the exchange threw a
// CollectiveError naming the timeout, that the next exchange and gather throw without
// waiting, and that the failed exchange's buffers stayed alive: rank 1's late exchange is
// matched by rank 0's abandoned requests and receives rank 0's values intact. Prints "ok"
// on each rank that passed; exits 1 otherwise. `mpi_failed_exchange leave` checks leave()
// instead (check_leave).
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "flowtape/runtime/tensor.hpp"
#include "flowtape/train/mpi_collective.hpp"

using namespace flowtape;

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (ok) return;
  std::printf("FAIL: %s\n", what.c_str());
  ++failures;
}

// Runs call, which must throw CollectiveError with `words` in its message, within `limit`.
template <class Call>
void expect_refused(Call call, const std::string& words, std::chrono::milliseconds limit,
                    const std::string& what) {
  const auto start = std::chrono::steady_clock::now();
  try {
    call();
    expect(false, what + ": no error");
  } catch (const train::CollectiveError& e) {
    expect(std::string(e.what()).find(words) != std::string::npos,
           what + ": the message does not say '" + words + "': " + e.what());
  }
  expect(std::chrono::steady_clock::now() - start < limit, what + ": took too long");
}

// Rank 1 comes to leave() 0.8 s late: rank 0's leave() throws CollectiveError within its
// timeout instead of waiting in MPI_Finalize, and a second leave() refuses at once. Rank 1's
// late meeting is matched by rank 0's abandoned gather; rank 0 then finalizes by hand (its
// destructor would not, the collective being broken), once rank 1 has come.
int check_leave(train::MpiCollective& ranks) {
  using namespace std::chrono_literals;
  if (ranks.rank() == 0) {
    expect_refused([&] { ranks.leave(); }, "did not reach a gather", 5s, "leaving before rank 1");
    expect_refused([&] { ranks.leave(); }, "cannot be used again", 100ms, "leaving again");
    std::this_thread::sleep_for(1500ms);
    ranks.finalize();
  } else {
    std::this_thread::sleep_for(800ms);
    ranks.leave();
  }
  if (failures == 0) std::printf("ok (rank %d)\n", ranks.rank());
  return failures == 0 ? 0 : 1;
}

int check_exchange(train::MpiCollective& ranks) {
  using namespace std::chrono_literals;
  const std::vector<double> mine = {ranks.rank() + 1.0, 2.0, 3.0, 4.0};
  const Tensor sent = from_vector(mine, Shape{4}, DType::f32);
  if (ranks.rank() == 0) {
    expect_refused([&] { ranks.exchange_tensor(1, sent); }, "did not answer", 5s,
                   "the late peer's exchange");
    expect_refused([&] { ranks.exchange_tensor(1, sent); }, "cannot be used again", 100ms,
                   "an exchange after the failure");
    const std::byte byte{1};
    expect_refused(
        [&] {
          ranks.all_gather({&byte, 1});
        },
        "cannot be used again", 100ms, "a gather after the failure");
    std::this_thread::sleep_for(1500ms);  // rank 1's late exchange completes meanwhile
    ranks.finalize();                     // (by hand: a broken collective's destructor does not)
  } else {
    std::this_thread::sleep_for(800ms);
    const std::vector<double> theirs = ranks.exchange_tensor(0, sent).to_vector();
    expect(theirs == std::vector<double>({1.0, 2.0, 3.0, 4.0}),
           "rank 1 did not receive rank 0's abandoned values intact");
  }
  if (failures == 0) std::printf("ok (rank %d)\n", ranks.rank());
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  const std::string what = argc > 1 ? argv[1] : "exchange";
  if (what != "exchange" && what != "leave") {
    std::printf("FAIL: usage: mpi_failed_exchange [exchange|leave]\n");
    return 1;
  }
  train::MpiCollective ranks(300ms);
  if (ranks.size() != 2) {
    std::printf("FAIL: run with mpirun -n 2 (got %d ranks)\n", ranks.size());
    return 1;
  }
  return what == "leave" ? check_leave(ranks) : check_exchange(ranks);
}
