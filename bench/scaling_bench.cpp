// SPDX-License-Identifier: MIT
// Strong scaling of a training step through the trainer library: the same global batch on one
// thread, on several threads of one process (--shard-threads) or on MPI ranks (run it under
// mpirun; built with MPI). One JSON line from rank 0: steps/s median over timed blocks.
//
// The model and data mirror bench/flow_bench: VelocityMLP(2 -> W x 3 -> 2, SiLU, raw t) on
// the 8 gaussians, Adam, the rectified path; losses cfm, entropic (lambda 0.3 over the whole
// batch) and fdm (one Rademacher probe). --shards 1 is the plain single-tape step.
//
// Usage: scaling_bench --loss cfm --width 64 --batch 1024 --shards 2 --shard-threads 2
//        mpirun -n 2 scaling_bench --loss cfm --width 64 --batch 1024 --shards 2
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "flowtape/train/trainer.hpp"
#if FLOWTAPE_BENCH_MPI
#include "flowtape/train/mpi_collective.hpp"
#endif

using namespace flowtape;

int main(int argc, char** argv) {
  train::TrainSpec c;
  c.dataset = "8gaussians";
  c.hidden = 256;
  c.depth = 3;
  c.activation = nn::Activation::silu;
  c.time_embedding = nn::TimeEmbeddingKind::raw;
  c.schedule = train::LrSchedule::constant;
  c.lr = 1e-3;
  c.steps = 1'000'000'000;
  c.lambda_max = 0.3;
  c.ramp_end = 0;
  int repeats = 3, warmup = 10;
  double block_s = 0.5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--loss")
      c.loss = train::choice_from_name<train::Loss>(v, "loss");
    else if (k == "--width")
      c.hidden = std::stoi(v);
    else if (k == "--batch")
      c.batch = std::stoll(v);
    else if (k == "--shards")
      c.shards = std::stoll(v);
    else if (k == "--shard-threads")
      c.shard_threads = std::stoi(v);
    else if (k == "--repeats")
      repeats = std::stoi(v);
    else if (k == "--warmup")
      warmup = std::stoi(v);
    else if (k == "--block-s")
      block_s = std::stod(v);
    else
      throw std::invalid_argument("scaling_bench: unknown option " + k);
  }
  train::Trainer trainer(c);
  std::shared_ptr<train::Collective> ranks;
#if FLOWTAPE_BENCH_MPI
  if (train::started_by_mpi_launcher()) ranks = std::make_shared<train::MpiCollective>();
#endif
  if (ranks) trainer.distribute(ranks);
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < warmup / 2; ++i) trainer.step();
  const auto w0 = clock::now();
  const int timed_warmup = std::max(warmup - warmup / 2, 1);
  for (int i = 0; i < timed_warmup; ++i) trainer.step();
  double per_step = std::chrono::duration<double>(clock::now() - w0).count() / timed_warmup;
  if (ranks) {  // every rank runs the same number of steps: rank 0's estimate
    const double mine = per_step;
    per_step = train::all_gather_values(*ranks, {&mine, 1}).front();
  }
  const int steps = std::max(5, static_cast<int>(block_s / std::max(per_step, 1e-6)));
  std::vector<double> rates;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = clock::now();
    for (int i = 0; i < steps; ++i) trainer.step();
    rates.push_back(steps / std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::sort(rates.begin(), rates.end());
  if (!ranks || ranks->rank() == 0)
    std::printf(
        "{\"impl\": \"flowtape\", \"loss\": \"%s\", \"width\": %d, \"batch\": %lld, "
        "\"shards\": %lld, \"shard_threads\": %d, \"ranks\": %d, \"steps_used\": %d, "
        "\"steps_per_s_median\": %.2f, \"steps_per_s_min\": %.2f, \"steps_per_s_max\": %.2f}\n",
        train::name_of(c.loss), c.hidden, static_cast<long long>(c.batch),
        static_cast<long long>(c.shards), c.shard_threads, ranks ? ranks->size() : 1, steps,
        rates[rates.size() / 2], rates.front(), rates.back());
  return 0;
}
