// SPDX-License-Identifier: MIT
// Per-op overhead of the autodiff engine: the cost of one small op (a [4] + [4] add) run
// plainly, run while a tape records it, and the cost per node of the backward walk. The
// difference between the first two is what recording costs.
#include <cstdio>

#include "bench/timing.hpp"
#include "flowtape/autodiff/autodiff.hpp"

using namespace flowtape;

int main() {
  constexpr int kOps = 1000;
  const Tensor a = ones({4}), b = ones({4});
  const double plain = bench::median_seconds([&] {
    Tensor x = a;
    for (int i = 0; i < kOps; ++i) x = add(x, b);
  });
  const double recorded = bench::median_seconds([&] {
    Tape tape;
    Tensor x = tape.watch(copy(a));
    for (int i = 0; i < kOps; ++i) x = add(x, b);
  });
  Tensor x0;
  const double with_backward = bench::median_seconds([&] {
    Tape tape;
    x0 = copy(a);
    tape.watch(x0);
    Tensor x = x0;
    for (int i = 0; i < kOps; ++i) x = add(x, b);
    tape.gradient(sum(x), {x0});
  });
  std::printf("| measurement | ns per op |\n| --- | ---: |\n");
  std::printf("| small op, no tape | %.0f |\n", plain / kOps * 1e9);
  std::printf("| small op, recorded on a tape | %.0f |\n", recorded / kOps * 1e9);
  std::printf("| recording overhead | %.0f |\n", (recorded - plain) / kOps * 1e9);
  std::printf("| backward walk, per node | %.0f |\n", (with_backward - recorded) / kOps * 1e9);
  return 0;
}
