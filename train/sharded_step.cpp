// SPDX-License-Identifier: MIT
// The sharded training step (TrainSpec::shards > 1): data parallelism across threads and ranks
// with the bits of one process.
//
// The step is defined by its shard count S, never by who computes it:
//   1. Every rank draws the whole batch from the shared stream exactly as the plain step does
//      (it is a few B x d draws, next to the B x hidden^2 work of the model, and it keeps
//      minibatch OT and EFM's references those of the whole batch), then the objective's
//      extra references and one generator per shard (split in shard order) for the shard's own
//      draws (path noise, Hutchinson probes).
//   2. Shard k holds rows [k B/S, (k+1) B/S). A rank computes its contiguous block of S/N
//      shards, spread over its threads, each thread on its own tape over the shared weights.
//   3. Each shard hands on what the loss over the batch is made of (ShardLoss::value): its mean
//      loss, or, for the entropic tilts that compare rows across the batch, its per-row losses.
//      These are gathered from every rank in shard order, the loss is formed from them once
//      (the same function of the same values on every rank) and differentiated with respect
//      to them: that cotangent seeds each shard's backward pass. So the entropic weights are
//      the global batch's softmax, not a per-rank one.
//   4. The shards' gradients are summed by the pairwise tree of collective.hpp: locally over
//      the rank's block, then across ranks.
// Every kernel gives the same bits on any thread (the GEMM does not split its reductions), so
// a shard's gradient does not depend on where it ran, and the sum does not depend on the rank
// count: `mpirun -n 4` and one process with the same shards write the same checkpoint.
#include <bit>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/tape.hpp"
#include "flowtape/autodiff/verbs.hpp"
#include "flowtape/flows/losses.hpp"
#include "flowtape/kernels/cpu/parallel.hpp"
#include "flowtape/runtime/backend.hpp"
#include "flowtape/train/trainer.hpp"

namespace flowtape::train {
namespace {

// The rows of x outside [lo, hi) (at least one row: there are two shards or more).
Tensor rows_outside(const Tensor& x, std::int64_t lo, std::int64_t hi) {
  const std::int64_t n = x.shape()[0];
  if (lo == 0) return slice(x, 0, hi, n);
  if (hi == n) return slice(x, 0, 0, lo);
  return concat({slice(x, 0, 0, lo), slice(x, 0, hi, n)}, 0);
}

// The gradients of every parameter as one vector, in the parameters' order, written into
// `into` (as many elements, their dtype, on their device). `into` is kept from step to step:
// a buffer made afresh on a shard thread and freed by the caller leaves the thread's allocator
// cache, so the thread faults in new pages every step.
void flatten_into(const std::vector<Tensor>& grads, Tensor& into) {
  NoGrad no_grad;
  std::vector<Tensor> parts;
  std::vector<std::int64_t> lens;
  std::int64_t total = 0;
  for (const Tensor& g : grads) {
    if (g.dtype() != into.dtype() || g.device() != into.device())
      throw std::invalid_argument(
          "sharded step: every parameter must have one dtype and device (a gradient is " +
          std::string(dtype_name(g.dtype())) + ")");
    parts.push_back(reshape(g, {g.numel()}));
    lens.push_back(g.numel());
    total += g.numel();
  }
  if (total != into.numel())
    throw std::logic_error("sharded step: the gradients do not fill the flattened buffer");
  backend_of(into).concat_axis(parts, lens, into, 1, 1);
}

}  // namespace

bool Trainer::tilts_across_rows() const {
  return spec_.loss == Loss::entropic && spec_.tilt != EntropicTilt::point;
}

Trainer::ShardLoss Trainer::shard_loss(const StepBatch& b, std::int64_t lo, std::int64_t hi,
                                       Generator& gen, const References& refs, double lambda) {
  const Tensor x0 = slice(b.x0, 0, lo, hi), x1 = slice(b.x1, 0, lo, hi), t = slice(b.t, 0, lo, hi);
  const Tensor c = b.c.defined() ? slice(b.c, 0, lo, hi) : Tensor();
  const Tensor z =
      path_.kind() == flows::PathKind::independent ? randn(x0.shape(), gen).to(device()) : Tensor();
  const flows::PathSample ps = path_.sample(x0, x1, t, z);
  if (spec_.loss == Loss::fdm) {
    const flows::FdmLoss l =
        flows::fdm_loss(spec_.conditional ? flows::bind(model_.conditional, c) : model_.forward, ps,
                        t, gen, fdm_options(ps.xt.shape()[1]));
    return {reshape(l.total, {1}), l.cfm, l.cdm};
  }
  const Tensor v = spec_.conditional ? model_.conditional(ps.xt, t, c) : model_.forward(ps.xt, t);
  if (tilts_across_rows()) return {flows::per_sample_loss(v, ps.ut), {}, {}};
  if (spec_.loss == Loss::entropic) {  // the per-point tilt, over the whole batch's targets
    const Tensor reference = refs.points.defined() ? concat({b.x1, refs.points}, 0) : b.x1;
    return {reshape(flows::per_point_entropic_loss(v, ps.xt, t, reference, lambda), {1}), {}, {}};
  }
  if (spec_.loss == Loss::efm && spec_.conditional) {
    // The references are the whole batch's targets (the shard's own first) and the extra
    // points, each with its class.
    const flows::Dataset::Labeled& extra = refs.class_points;
    Tensor others = rows_outside(b.x1, lo, hi);
    Tensor labels = concat({slice(b.labels, 0, lo, hi), rows_outside(b.labels, lo, hi)}, 0);
    if (extra.x.defined()) {
      others = concat({others, extra.x.to(device())}, 0);
      labels = concat({labels, extra.c}, 0);
    }
    return {reshape(flows::cfm_loss(v, flows::efm_target_by_class(ps.xt, t, x1, others, labels, c,
                                                                  efm_sigma_min())),
                    {1}),
            {},
            {}};
  }
  if (spec_.loss == Loss::efm) {
    Tensor others = rows_outside(b.x1, lo, hi);
    if (refs.points.defined()) others = concat({others, refs.points}, 0);
    return {
        reshape(flows::cfm_loss(v, flows::efm_target(ps.xt, t, x1, others, efm_sigma_min())), {1}),
        {},
        {}};
  }
  return {reshape(flows::cfm_loss(v, ps.ut), {1}), {}, {}};
}

StepReport Trainer::sharded_step(const StepBatch& b, std::int64_t step, double lambda, double lr) {
  const std::vector<Tensor> params = model_.module->parameters();
  // (Before anything is drawn: a refused step leaves the random streams where they were.)
  if (params.empty()) throw std::invalid_argument("sharded step: the model has no parameters");
  const std::int64_t shards = spec_.shards, rows = spec_.batch / shards;
  const int ranks = collective_ ? collective_->size() : 1;
  const std::int64_t mine = shards / ranks;  // this rank's block of shards
  const std::int64_t first = (collective_ ? collective_->rank() : 0) * mine;
  const References refs = draw_references();
  std::vector<Generator> gens;  // every shard's, so every rank's gen_ moves alike
  for (std::int64_t k = 0; k < shards; ++k) gens.push_back(gen_.split());

  const int threads = static_cast<int>(std::min<std::int64_t>(spec_.shard_threads, mine));
  if (!workers_ || workers_->size() != threads) workers_ = std::make_unique<ShardWorkers>(threads);
  // With shard threads the cores are theirs for the whole step: the kernels between the passes
  // (the tree, the checks, Adam) run serially too. Left to the kernels' pool (set_num_threads),
  // its helper spins between kernels on the core a shard worker needs next (measured: half the
  // steps per second at width 256).
  std::optional<kernels::cpu::SerialKernels> serial;
  if (threads > 1) serial.emplace();
  const bool per_row = tilts_across_rows();
  const std::int64_t width = per_row ? rows : 1;  // values a shard hands on
  const std::int64_t record = width + 2;          // and its FDM parts (cfm, cdm)

  std::vector<ShardLoss> outs(static_cast<std::size_t>(mine));
  std::vector<std::size_t> marks(static_cast<std::size_t>(mine));
  std::vector<Tensor> seeds(static_cast<std::size_t>(mine));
  std::int64_t total = 0;  // elements of all gradients
  for (const Tensor& p : params) total += p.numel();
  std::vector<Tensor>& flat = shard_grads_;  // each shard's gradient, flattened
  if (flat.size() != static_cast<std::size_t>(mine) || flat.front().numel() != total ||
      flat.front().dtype() != params.front().dtype() ||
      flat.front().device() != params.front().device()) {
    flat.clear();
    for (std::int64_t k = 0; k < mine; ++k)
      flat.push_back(empty(Shape{total}, params.front().dtype(), params.front().device()));
  }
  double loss = 0, cfm = 0, cdm = 0;

  // Worker 0, between the passes: the loss over the whole batch from every shard's values,
  // and its cotangent for this rank's shards.
  const auto form_loss = [&] {
    std::vector<double> local;
    local.reserve(static_cast<std::size_t>(mine * record));
    for (const ShardLoss& o : outs) {
      const std::vector<double> v = o.value.to_vector();
      local.insert(local.end(), v.begin(), v.end());
      local.push_back(o.cfm.defined() ? o.cfm.item() : 0.0);
      local.push_back(o.cdm.defined() ? o.cdm.item() : 0.0);
    }
    const std::vector<double> all = collective_ ? all_gather_values(*collective_, local) : local;
    std::vector<double> values;
    for (std::int64_t k = 0; k < shards; ++k) {
      const auto at = all.begin() + k * record;
      values.insert(values.end(), at, at + width);
      cfm += at[width];
      cdm += at[width + 1];
    }
    cfm /= static_cast<double>(shards);
    cdm /= static_cast<double>(shards);
    const Tensor r = from_vector(values, Shape{shards * width}, outs.front().value.dtype());
    NoGrad no_grad;  // (the verb records on this worker's tape; nothing here needs it)
    const auto [l, g] = value_and_grad(
        [&](const std::vector<Tensor>& x) {
          return per_row ? tilted_loss(x[0], b.t, lambda) : mean(x[0]);
        },
        {r});
    loss = l.item();
    for (std::int64_t k = 0; k < mine; ++k)
      seeds[static_cast<std::size_t>(k)] =
          reshape(slice(g[0], 0, (first + k) * width, (first + k + 1) * width),
                  outs[static_cast<std::size_t>(k)].value.shape())
              .to(device());
  };

  workers_->run([&](int w, ShardWorkers::Sync& sync) {
    Tape tape;
    detail::RecordingScope on(true);
    tape.watch(params);
    for (std::int64_t k = w; k < mine; k += threads) {
      const auto i = static_cast<std::size_t>(k);
      marks[i] = tape.num_nodes();
      const std::int64_t lo = (first + k) * rows;
      outs[i] =
          shard_loss(b, lo, lo + rows, gens[static_cast<std::size_t>(first + k)], refs, lambda);
    }
    if (!sync.wait()) return;
    if (w == 0) form_loss();
    if (!sync.wait()) return;
    for (std::int64_t k = w; k < mine; k += threads) {
      const auto i = static_cast<std::size_t>(k);
      flatten_into(tape.gradient_from({&outs[i].value, 1}, {&seeds[i], 1}, params, false, marks[i]),
                   flat[i]);
    }
  });

  // The tree: over this rank's block, then across the ranks.
  Tensor sum = tree_sum(flat);
  if (collective_ && ranks > 1) {
    try {
      sum = all_reduce_tree(*collective_, sum);
    } catch (...) {
      // A failed exchange may leave MPI still reading a buffer it was given (flat[0] itself
      // when this rank has one shard): the next step must not write into it.
      flat.clear();
      throw;
    }
  }
  std::vector<Tensor> grads;
  {
    NoGrad no_grad;
    std::int64_t at = 0;
    for (const Tensor& p : params) {
      grads.push_back(reshape(slice(sum, 0, at, at + p.numel()), p.shape()));
      at += p.numel();
    }
  }

  const auto scalar = [](double v) {
    return from_vector(std::vector<double>{v}, Shape{1}, DType::f64);
  };
  if (spec_.loss == Loss::fdm) {
    last_cfm_ = scalar(cfm);
    last_divergence_ = scalar(cdm);
  }
  StepReport report{step + 1, 0.0, lambda, lr};
  read_step(scalar(loss), grads, report);
  if (spec_.grad_clip > 0) nn::clip_grad_norm(grads, spec_.grad_clip);
  optimizer_->step(grads);
  return report;
}

}  // namespace flowtape::train
