// SPDX-License-Identifier: MIT
// Flow-matching training throughput of flowtape: one process = one configuration, printing
// one JSON line (steps/s median over timed blocks, and the peak resident set size), so that
// bench/compare.sh can run it interleaved with the PyTorch peer (bench/peers/flow_torch.py),
// which mirrors this step op for op.
//
// One step: x0 ~ N(0, I), x1 ~ 8 gaussians (radius 2, std 0.1), t ~ U[0, 1), the rectified
// path, VelocityMLP(2 -> W x 3 -> 2, SiLU, raw time input), the loss, its gradient
// (nn::loss_and_grad), and an Adam step. Losses: cfm, entropic (lambda 0.3), fdm (one
// Rademacher probe through jvp, w_div 0.1).
//
// With --shards S (> 1) the step is the trainer library's sharded step instead
// (train/sharded_step.cpp: S micro-batches on --threads worker threads, the same loss and
// gradient to rounding): the same model, objective and Adam through train::Trainer, whose step
// also checks the loss and gradient for non-finite values.
//
// Usage: flow_bench --loss cfm --width 256 --batch 1024 --threads 1 [--block-s 0.5]
//                   [--repeats 3] [--warmup 10] [--shards 2]
//        flow_bench --loss fdm --width 64 --batch 256 --digest-steps 20
// The second form times nothing: it runs exactly that many steps from the fixed seed and
// prints a digest of the parameters' bytes, so that two builds can be checked to train to the
// same bits (bench/ab_steps.sh).
// Exit codes: 0 done, 1 failed, 2 bad arguments.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/step_benchmark.hpp"
#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/flows/datasets.hpp"
#include "flowtape/flows/losses.hpp"
#include "flowtape/flows/path.hpp"
#include "flowtape/nn/grad_step.hpp"
#include "flowtape/nn/optimizer.hpp"
#include "flowtape/nn/velocity_mlp.hpp"
#include "flowtape/train/trainer.hpp"

using namespace flowtape;

namespace {

struct Args {
  std::string loss = "cfm";
  int width = 256;
  std::int64_t batch = 256;
  int threads = 1, repeats = 3, warmup = 10, digest_steps = 0;
  std::int64_t shards = 1;
  double block_s = 0.5;
};

Args parse(int argc, char** argv) {
  Args a;
  if (argc % 2 == 0) throw bench::BadArguments("every option takes a value");
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--loss")
      a.loss = v;
    else if (k == "--width")
      a.width = bench::option_number<int>(k, v);
    else if (k == "--batch")
      a.batch = bench::option_number<std::int64_t>(k, v);
    else if (k == "--threads")
      a.threads = bench::option_number<int>(k, v);
    else if (k == "--repeats")
      a.repeats = bench::option_number<int>(k, v);
    else if (k == "--warmup")
      a.warmup = bench::option_number<int>(k, v);
    else if (k == "--block-s")
      a.block_s = bench::option_number<double>(k, v);
    else if (k == "--shards")
      a.shards = bench::option_number<std::int64_t>(k, v);
    else if (k == "--digest-steps")
      a.digest_steps = bench::option_number<int>(k, v);
    else
      throw bench::BadArguments("unknown option " + k);
  }
  bench::check_timing(a.repeats, a.warmup, a.block_s);
  if (a.loss != "cfm" && a.loss != "entropic" && a.loss != "fdm")
    throw bench::BadArguments("--loss must be cfm, entropic or fdm");
  if (a.width < 1 || a.batch < 1 || a.threads < 1 || a.shards < 1 || a.digest_steps < 0)
    throw bench::BadArguments(
        "--width, --batch, --threads and --shards must be at least 1, --digest-steps at least 0");
  return a;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// FNV-1a over the bytes of every parameter, in order.
std::uint64_t digest(const std::vector<Tensor>& params) {
  std::uint64_t h = 14695981039346656037ull;
  for (const Tensor& p : params) {
    const auto* bytes = static_cast<const unsigned char*>(p.raw_data());
    const std::size_t n = static_cast<std::size_t>(p.numel()) * dtype_size(p.dtype());
    for (std::size_t i = 0; i < n; ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  }
  return h;
}

int run(int argc, char** argv) {
  const Args a = parse(argc, argv);
  set_num_threads(a.threads);
  Generator gen(0);
  nn::VelocityMLPOptions mo;
  mo.time_embedding = nn::TimeEmbeddingKind::raw;
  mo.activation = nn::Activation::silu;
  nn::VelocityMLP model(2, a.width, 3, gen, mo);
  const std::vector<Tensor> params = model.parameters();
  nn::Adam opt(params, nn::AdamOptions{});
  const flows::EightGaussians data(2.0, 0.1);
  const flows::Path path = flows::Path::rectified();
  const auto field = model.as_function();
  const std::int64_t b = a.batch;

  double loss_value = 0;
  // The sharded step: the trainer with this benchmark's model and objective (whose checks of
  // the batch against the shards are the command line's).
  std::unique_ptr<train::Trainer> trainer;
  if (a.shards > 1)
    trainer = bench::from_arguments([&] {
      train::TrainSpec spec =
          bench::benchmark_spec(train::choice_from_name<train::Loss>(a.loss, "loss"), a.width, b);
      spec.shards = a.shards;
      spec.shard_threads = a.threads;
      return std::make_unique<train::Trainer>(spec);
    });
  auto step = [&] {
    if (trainer) {
      loss_value = trainer->step().loss;
      return;
    }
    const Tensor x0 = randn({b, 2}, gen);
    const Tensor x1 = data.sample(b, gen);
    const Tensor t = rand({b, 1}, gen);
    const flows::PathSample ps = path.sample(x0, x1, t);
    auto [loss, grads] = nn::loss_and_grad(params, [&] {
      if (a.loss == "fdm") return flows::fdm_loss(field, ps, t, gen).total;
      const Tensor v = model(ps.xt, t);
      if (a.loss == "cfm") return flows::cfm_loss(v, ps.ut);
      return flows::entropic_loss(flows::per_sample_loss(v, ps.ut), 0.3);
    });
    opt.step(grads);
    loss_value = loss.item();
  };

  if (a.digest_steps > 0) {
    for (int i = 0; i < a.digest_steps; ++i) step();
    std::printf(
        "{\"loss\": \"%s\", \"width\": %lld, \"batch\": %lld, \"steps\": %d, "
        "\"digest\": \"%016llx\", \"loss_last\": %.17g}\n",
        a.loss.c_str(), static_cast<long long>(a.width), static_cast<long long>(b), a.digest_steps,
        static_cast<unsigned long long>(digest(trainer ? trainer->module().parameters() : params)),
        loss_value);
    return 0;
  }

  const bench::StepRates rates =
      bench::time_steps(step, a.warmup, a.repeats, a.block_s, [](double s) { return s; });
  std::printf(
      "{\"impl\": \"%s\", \"loss\": \"%s\", \"width\": %lld, \"batch\": %lld, "
      "\"threads\": %d, \"shards\": %lld, \"steps_used\": %d, \"steps_per_s_median\": %.2f, "
      "\"steps_per_s_min\": %.2f, \"steps_per_s_max\": %.2f, \"peak_rss_mb\": %.1f, "
      "\"loss_last\": %.5g}\n",
      trainer ? "flowtape-shards" : "flowtape", a.loss.c_str(), static_cast<long long>(a.width),
      static_cast<long long>(b), a.threads, static_cast<long long>(a.shards), rates.steps_per_block,
      rates.median(), rates.sorted.front(), rates.sorted.back(), peak_rss_mb(), loss_value);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::guarded_main("flow_bench", [&] { return run(argc, argv); });
}
