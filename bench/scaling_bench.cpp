// SPDX-License-Identifier: MIT
// Strong scaling of a training step through the trainer library: the same global batch on one
// thread, on several threads of one process (--shard-threads) or on MPI ranks (run it under
// mpirun; built with MPI). One JSON line from rank 0: steps/s median over timed blocks.
//
// The model and data are bench/flow_bench's (bench::benchmark_spec): VelocityMLP(2 -> W x 3 ->
// 2, SiLU, raw t) on the 8 gaussians, Adam, the rectified path; losses cfm, entropic (lambda
// 0.3 over the whole batch) and fdm (one Rademacher probe). --shards 1 is the plain
// single-tape step.
//
// Usage: scaling_bench --loss cfm --width 64 --batch 1024 --shards 2 --shard-threads 2
//        mpirun -n 2 scaling_bench --loss cfm --width 64 --batch 1024 --shards 2
// Exit codes: 0 done, 1 failed, 2 bad arguments.
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include "bench/step_benchmark.hpp"
#include "flowtape/train/trainer.hpp"
#if FLOWTAPE_BENCH_MPI
#include "flowtape/train/mpi_collective.hpp"
#endif

using namespace flowtape;

namespace {

// Times the trainer's steps (over `ranks` when given) and prints rank 0's JSON line.
int timed(train::Trainer& trainer, const train::TrainSpec& c, int repeats, int warmup,
          double block_s, const std::shared_ptr<train::Collective>& ranks) {
  if (ranks) trainer.distribute(ranks);
  // Every rank runs the same number of steps: rank 0's estimate of a step sizes the blocks.
  const auto agree = [&](double mine) {
    return ranks ? train::all_gather_values(*ranks, {&mine, 1}).front() : mine;
  };
  const bench::StepRates rates =
      bench::time_steps([&] { trainer.step(); }, warmup, repeats, block_s, agree);
  if (!ranks || ranks->rank() == 0)
    std::printf(
        "{\"impl\": \"flowtape\", \"loss\": \"%s\", \"width\": %d, \"batch\": %lld, "
        "\"shards\": %lld, \"shard_threads\": %d, \"ranks\": %d, \"steps_used\": %d, "
        "\"steps_per_s_median\": %.2f, \"steps_per_s_min\": %.2f, \"steps_per_s_max\": %.2f}\n",
        train::name_of(c.loss), c.hidden, static_cast<long long>(c.batch),
        static_cast<long long>(c.shards), c.shard_threads, ranks ? ranks->size() : 1,
        rates.steps_per_block, rates.median(), rates.sorted.front(), rates.sorted.back());
  return 0;
}

int run(int argc, char** argv) {
  train::TrainSpec c = bench::benchmark_spec(train::Loss::cfm, 256, 256);
  int repeats = 3, warmup = 10;
  double block_s = 0.5;
  if (argc % 2 == 0) throw bench::BadArguments("every option takes a value");
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--loss")
      c.loss =
          bench::from_arguments([&] { return train::choice_from_name<train::Loss>(v, "loss"); });
    else if (k == "--width")
      c.hidden = bench::option_number<int>(k, v);
    else if (k == "--batch")
      c.batch = bench::option_number<std::int64_t>(k, v);
    else if (k == "--shards")
      c.shards = bench::option_number<std::int64_t>(k, v);
    else if (k == "--shard-threads")
      c.shard_threads = bench::option_number<int>(k, v);
    else if (k == "--repeats")
      repeats = bench::option_number<int>(k, v);
    else if (k == "--warmup")
      warmup = bench::option_number<int>(k, v);
    else if (k == "--block-s")
      block_s = bench::option_number<double>(k, v);
    else
      throw bench::BadArguments("unknown option " + k);
  }
  bench::check_timing(repeats, warmup, block_s);
  train::Trainer trainer = bench::from_arguments([&] { return train::Trainer(c); });
#if FLOWTAPE_BENCH_MPI
  if (train::started_by_mpi_launcher()) {
    const auto mpi = std::make_shared<train::MpiCollective>();
    try {
      return timed(trainer, c, repeats, warmup, block_s, mpi);
    } catch (const std::exception& e) {
      if (mpi->size() == 1) throw;
      // Ends every rank now: leaving this one would keep the others waiting for it until
      // their exchanges time out.
      std::fprintf(stderr, "scaling_bench: rank %d: %s\n", mpi->rank(), e.what());
      mpi->abort(bench::exit_code_for(e));
    }
  }
#endif
  return timed(trainer, c, repeats, warmup, block_s, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  return bench::guarded_main("scaling_bench", [&] { return run(argc, argv); });
}
