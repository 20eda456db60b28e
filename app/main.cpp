// SPDX-License-Identifier: MIT
// flowtape: the command-line trainer.
//
//   flowtape train  --dataset rings --loss entropic --out runs/rings   train, then evaluate
//   flowtape sample --model runs/rings/model.safetensors -n 1000      samples as CSV
//   flowtape nll    --model ... [--data points.csv | -n 1000]         negative log-likelihood
//   flowtape eval   --model ... --out folder                          samples, metrics, plots
//
// A run folder holds model.safetensors (model, optimizer, generator state and config),
// config.json, metrics.csv (one row per step), samples.csv, metrics.json and PNG plots, and
// is locked while a run trains in it; training into a folder that holds a run's files needs
// --resume or --overwrite (eval into one that holds its outputs, and sample onto an existing
// file, --overwrite). Exit codes:
// 0 success, 1 error, 2 bad command line, 3 training stopped on a non-finite value (the last
// good checkpoint is kept), 4 a data-parallel run's ranks disagree, or one did not answer
// within --rank-timeout, 130 / 143 interrupted by SIGINT / SIGTERM (a checkpoint of the last
// finished step is saved first).
//
// Data-parallel: `mpirun -n N flowtape train ... --shards S` (N a power of two dividing S)
// trains on N ranks and writes the checkpoint one process writes with the same --shards.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <vector>

#include "app/cli.hpp"
#include "app/evaluate.hpp"
#include "app/progress.hpp"
#include "app/ranks.hpp"
#include "flowtape/flows/coupling.hpp"
#include "flowtape/flows/csv.hpp"
#include "flowtape/flows/likelihood.hpp"
#include "flowtape/kernels/cpu/gemm_kernels.hpp"
#include "flowtape/train/train.hpp"

using namespace flowtape;
using namespace flowtape::app;
using train::StepReport;
using train::Trainer;
using train::TrainingError;
using train::TrainSpec;

namespace {

TrainSpec read_config_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open the config file " + path);
  std::ostringstream text;
  text << f.rdbuf();
  try {
    return train::spec_from_json(text.str());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

// Stands in for a data file the model was trained on when only the model is needed (sample,
// nll --data): its size and conditions, from the checkpoint; drawing from it is refused.
class ModelOnlyData : public flows::Dataset {
 public:
  ModelOnlyData(std::string name, std::int64_t dim, flows::ConditionSpec condition)
      : name_(std::move(name)), dim_(dim), condition_(condition) {}
  std::string name() const override { return name_; }
  std::int64_t dim() const override { return dim_; }
  flows::ConditionSpec condition() const override { return condition_; }
  Tensor sample(std::int64_t, Generator&, DType) const override {
    throw std::runtime_error("this model was trained on a data file; give the points with --data");
  }

 private:
  std::string name_;
  std::int64_t dim_;
  flows::ConditionSpec condition_;
};

// The model-only stand-in for a checkpoint of a data-file run (its architecture and condition
// come from its metadata).
std::shared_ptr<const flows::Dataset> model_only_data(const nn::Metadata& meta, const TrainSpec& c,
                                                      const std::string& path) {
  try {
    const nlohmann::json arch = nlohmann::json::parse(meta.at("architecture"));
    flows::ConditionSpec condition;
    if (const auto it = meta.find("condition"); it != meta.end()) {
      const nlohmann::json j = nlohmann::json::parse(it->second);
      const std::string kind = j.at("kind").get<std::string>();
      condition.kind = kind == "labels"    ? flows::ConditionKind::labels
                       : kind == "context" ? flows::ConditionKind::context
                                           : flows::ConditionKind::none;
      condition.classes = j.at("classes").get<std::int64_t>();
      condition.dim = j.at("dim").get<std::int64_t>();
    }
    const auto dim = arch.at("input_dim").get<std::int64_t>();
    if (dim < 1 || dim > (1 << 20) || condition.classes < 0 || condition.classes > (1 << 24) ||
        condition.dim < 0 || condition.dim > (1 << 20))
      throw std::invalid_argument("sizes out of range");
    return std::make_shared<ModelOnlyData>(c.dataset, dim, condition);
  } catch (const std::exception& e) {
    throw std::invalid_argument(path + ": its architecture or condition metadata is unreadable (" +
                                std::string(e.what()) + ")");
  }
}

// The condition of `n` samples or points from --class / --context: a conditional model gets
// them repeated (labels default to the classes in turn for sampling, to no condition for nll);
// an unconditional model refuses them.
Tensor conditions_from(const CommandLine& cl, const Trainer& t, std::int64_t n, bool sampling) {
  const flows::ConditionSpec& spec = t.condition();
  const bool given = cl.condition_class >= 0 || !cl.condition_context.empty();
  if (spec.kind == flows::ConditionKind::none) {
    if (given) throw std::runtime_error("--class / --context: the model is not conditional");
    return Tensor();
  }
  if (spec.kind == flows::ConditionKind::labels) {
    if (!cl.condition_context.empty())
      throw std::runtime_error("--context: the model is conditioned on class labels; use --class");
    if (cl.condition_class >= spec.classes)
      throw std::runtime_error("--class " + std::to_string(cl.condition_class) +
                               ": the model has " + std::to_string(spec.classes) + " classes");
    std::vector<double> labels(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i)
      labels[static_cast<std::size_t>(i)] = cl.condition_class >= 0 ? double(cl.condition_class)
                                            : sampling              ? double(i % spec.classes)
                                                                    : -1.0;
    return from_vector(labels, Shape{n}, DType::i64);
  }
  if (cl.condition_class >= 0)
    throw std::runtime_error("--class: the model is conditioned on context vectors; use --context");
  if (cl.condition_context.empty()) {
    if (sampling)
      throw std::runtime_error("the model is conditioned on a context vector of " +
                               std::to_string(spec.dim) + " values; give --context \"a,b,...\"");
    return flows::null_condition(spec, n);
  }
  std::istringstream row(cl.condition_context + "\n");
  const Tensor one = flows::parse_csv(row, "--context").values;
  if (one.shape()[0] != 1 || one.shape()[1] != spec.dim)
    throw std::runtime_error("--context: the model takes " + std::to_string(spec.dim) +
                             " values, got " + std::to_string(one.numel()));
  return flows::repeat_condition(spec, one, n);
}

// A trainer whose model holds the weights of a checkpoint written by `flowtape train`. With
// with_data a data-file run's file is read again (eval compares with it); without, a model-only
// stand-in takes its place.
std::unique_ptr<Trainer> load_model(const std::string& path, const Binder* overrides,
                                    bool with_data = false) {
  const nn::SafetensorsContents file = nn::load_safetensors(path);  // read once: pipes work
  TrainSpec c = train::spec_from_checkpoint(file, path);
  // A run trained on a GPU still samples and evaluates on a machine without one (its weights
  // are the same): the cpu, said on stderr; an explicit --device cuda is still refused there.
  if (c.device == Device::cuda && cuda_device_count() == 0) {
    std::fprintf(stderr,
                 "note: %s was trained with --device cuda; no CUDA device here, using the cpu\n",
                 path.c_str());
    c.device = Device::cpu;
  }
  if (overrides) overrides->apply(c);  // sampling settings only
  // How many threads trained the shards says nothing about sampling, and device cuda takes
  // one: a run trained with --shard-threads 2 samples on a GPU too.
  c.shard_threads = 1;
  validate(c);                         // a crafted file's sizes are bounded like the command line's
  auto t = !c.data.empty() && !with_data
               ? std::make_unique<Trainer>(c, model_only_data(file.metadata, c, path),
                                           train::VelocityModel{})
               : std::make_unique<Trainer>(c);
  t->resume(file, path);
  return t;
}

std::string fields(const StepReport& r, const TrainSpec& c) {
  char buf[160];
  if (c.loss == train::Loss::entropic) {
    std::snprintf(buf, sizeof buf, "loss %.4f  lambda %.3f  lr %.2e", r.loss, r.lambda, r.lr);
  } else if (c.loss == train::Loss::fdm) {
    std::snprintf(buf, sizeof buf, "loss %.4f (cfm %.4f, divergence %.4f)  lr %.2e", r.loss, r.cfm,
                  r.divergence, r.lr);
  } else {
    std::snprintf(buf, sizeof buf, "loss %.4f  lr %.2e", r.loss, r.lr);
  }
  return buf;
}

// One line at the end of training: what this process trained, how fast, where the loss ended
// (the last step's loss is noisy: the mean of the last tenth of the steps beside it) and where
// the model is.
void print_summary(const std::vector<double>& losses, std::int64_t step, std::int64_t total,
                   double seconds, const std::string& checkpoint) {
  if (losses.empty()) {
    std::fprintf(stderr, "summary: no steps trained; the model is %s\n", checkpoint.c_str());
    return;
  }
  const std::size_t tail = std::max<std::size_t>(1, losses.size() / 10);
  double sum = 0;
  for (std::size_t i = losses.size() - tail; i < losses.size(); ++i) sum += losses[i];
  std::fprintf(stderr,
               "summary: %zu steps (now at %lld of %lld) in %.1f s, %.0f steps/s; loss %.4g at "
               "the last step, %.4g over the last %zu; saved %s\n",
               losses.size(), static_cast<long long>(step), static_cast<long long>(total), seconds,
               seconds > 0 ? static_cast<double>(losses.size()) / seconds : 0.0, losses.back(),
               sum / static_cast<double>(tail), tail, checkpoint.c_str());
}

// Done with the ranks once training ends: the trainer and the GPU transport let go of them,
// then this process leaves the job (so rank 0 evaluates alone and the others exit).
void release_ranks(Trainer& trainer, std::shared_ptr<train::Collective>& group) {
  trainer.distribute(nullptr);
  group.reset();
  leave_ranks();
}

// The exit status of a run stopped by a signal: the signal's, or SIGTERM's when the signal
// reached another rank (every rank stops at the same step when any is asked to).
int stopped_status() {
  const int sig = train::StopOnSignals::received();
  return 128 + (sig != 0 ? sig : SIGTERM);
}

// Whether any rank was signalled; every rank calls it once, after training. The steps agree
// on a stop, but not the last one: a signal during it (or the final save) would otherwise
// reach one rank's exit status only.
bool signalled_anywhere(const std::shared_ptr<train::Collective>& group) {
  bool any = train::StopOnSignals::received() != 0;
  if (!group || group->size() < 2) return any;
  const double mine = any ? 1.0 : 0.0;
  for (double v : train::all_gather_values(*group, {&mine, 1})) any = any || v != 0;
  return any;
}

// A rank other than 0 of a data-parallel run: it trains (its collective calls keep the ranks in
// step) and writes nothing; rank 0 holds the same weights and writes them. Its exit status is
// rank 0's: interrupted when any rank was signalled and the run stopped early or had an
// evaluation left to skip.
int train_secondary_rank(Trainer& trainer, std::shared_ptr<train::Collective>& group, bool eval) {
  const train::StopOnSignals stop_on_signals;
  try {
    const train::TrainOutcome outcome =
        trainer.train({.stop = [] { return train::StopOnSignals::received() != 0; }});
    const bool signalled = signalled_anywhere(group);
    release_ranks(trainer, group);
    return outcome == train::TrainOutcome::stopped || (signalled && eval) ? stopped_status() : 0;
  } catch (const TrainingError&) {
    release_ranks(trainer, group);  // rank 0 reports it (every rank stops at the same step)
    return 3;
  }
}

// Labels or context vectors for the data make the run conditional (the command line's rule).
void imply_conditional(TrainSpec& c) {
  if (c.label_column >= 0 || !c.labels.empty() || !c.context.empty()) c.conditional = true;
}

int run_train(const Binder& b, const TrainSpec& cli, const std::string& config_file,
              const std::string& out, bool resume, bool overwrite, bool eval, std::int64_t keep,
              double rank_timeout_s) {
  // Under mpirun this process is one rank: every rank trains, rank 0 alone writes the run
  // folder, the log and the evaluation (the others' weights are the same bits).
  std::shared_ptr<train::Collective> ranks =
      join_ranks(std::chrono::milliseconds(static_cast<std::int64_t>(rank_timeout_s * 1000)));
  const bool primary = !ranks || ranks->rank() == 0;
  // Without a config file or a run to resume, the command line is the whole configuration:
  // a bad value is a bad command line (exit 2). With one, the merged configuration is checked
  // below, and an error there is exit 1 (the file's value, or a combination, may be at fault).
  if (config_file.empty() && !resume) {
    try {
      TrainSpec whole = cli;
      imply_conditional(whole);
      validate(whole);
      // A built-in dataset's name says whether it has labels: refuse --conditional without
      // them here, before the run folder is made, as the command line's fault (exit 2).
      if (whole.conditional && whole.data.empty() &&
          flows::make_dataset(whole.dataset)->condition().kind == flows::ConditionKind::none)
        throw std::invalid_argument("conditional: the dataset " + whole.dataset +
                                    " has no labels or context vectors (8gaussians has labels; "
                                    "or give --data with --label-column, --labels or --context)");
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      abort_ranks(2);  // under mpirun the other ranks would wait for this one at their first gather
      return 2;
    }
  }
  using train::RunFolder;
  std::optional<RunFolder> folder;
  if (primary)
    folder.emplace(out, resume      ? RunFolder::Existing::resume
                        : overwrite ? RunFolder::Existing::overwrite
                                    : RunFolder::Existing::refuse);
  const std::string ckpt = out + "/model.safetensors";  // RunFolder::checkpoint()
  TrainSpec c = cli;
  nn::SafetensorsContents checkpoint;
  if (resume) {
    if (!std::filesystem::exists(ckpt))
      throw std::runtime_error("--resume: no checkpoint at " + ckpt);
    checkpoint = nn::load_safetensors(ckpt);
    c = train::spec_from_checkpoint(checkpoint, ckpt);
    // More steps continue the run's own schedule (to its original horizon) unless the command
    // line sets --schedule-steps. (Only the cosine decay and the entropic ramp have one.)
    if (c.schedule_steps == 0 && train::has_horizon(c)) c.schedule_steps = c.steps;
    b.apply(c);
    // A run trained with shard threads on the cpu resumes on a GPU, which computes its shards
    // on one thread: the threads are how it ran, not what it computes. (Given with --device
    // cuda on the command line, they are still refused.)
    if (c.device == Device::cuda && b.app->get_option("--shard-threads")->count() == 0)
      c.shard_threads = 1;
  } else if (!config_file.empty()) {
    c = read_config_file(config_file);
    b.apply(c);
  }
  imply_conditional(c);
  validate(c);
  std::shared_ptr<train::Collective> group =
      ranks && c.device == Device::cuda
          ? join_gpu_ranks(
                ranks, std::chrono::milliseconds(static_cast<std::int64_t>(rank_timeout_s * 1000)))
          : ranks;
  Trainer trainer(c);  // refuses an unusable device before anything is written
  if (resume) trainer.resume(checkpoint, ckpt);
  if (group) trainer.distribute(group);  // every rank's arguments and checkpoint agree
  ranks.reset();                         // (held by group, the trainer and join_ranks)
  if (!primary) return train_secondary_rank(trainer, group, eval);
  folder->clear_previous_run();  // --overwrite: only now that the new run can start
  if (resume)
    std::fprintf(stderr, "resumed %s at step %lld\n", ckpt.c_str(),
                 static_cast<long long>(trainer.steps_done()));
  if (group)
    std::fprintf(stderr, "data-parallel: %d ranks, %lld shards of %lld rows\n", group->size(),
                 static_cast<long long>(c.shards), static_cast<long long>(c.batch / c.shards));
  write_text_file(folder->file("config.json"),
                  nlohmann::ordered_json::parse(train::to_json(trainer.spec())).dump(2) + "\n");
  if (trainer.steps_done() >= c.steps)
    std::fprintf(stderr, "nothing to train: the run is at step %lld of %lld (raise --steps)\n",
                 static_cast<long long>(trainer.steps_done()), static_cast<long long>(c.steps));
  Progress progress("train", c.steps, trainer.steps_done());
  train::MetricsLog log(folder->file("metrics.csv"), resume ? trainer.steps_done() : 0);
  StepReport last{};
  std::vector<double> losses;  // this process's steps, for the summary line
  const auto started = std::chrono::steady_clock::now();
  train::TrainOutcome outcome;
  {
    const train::StopOnSignals stop_on_signals;
    try {
      outcome = trainer.train({
          .on_step =
              [&](const StepReport& r) {
                progress.update(r.step, fields(last = r, c));
                log.append(r);
                losses.push_back(r.loss);
              },
          .checkpoint =
              [&](const Trainer& t) { folder->save_checkpoint(t, c.checkpoint_every, keep); },
          .stop = [] { return train::StopOnSignals::received() != 0; },
      });
    } catch (const TrainingError& e) {
      log.flush();
      std::fprintf(stderr, "\nerror: %s\n", e.what());
      if (std::filesystem::exists(ckpt))
        std::fprintf(stderr, "the last good checkpoint is %s\n", ckpt.c_str());
      abort_ranks(3);  // (a checkpoint's check fails on rank 0 alone: end the others too)
      return 3;
    }
  }
  log.flush();
  const bool signalled = signalled_anywhere(group);
  if (group) release_ranks(trainer, group);  // the evaluation is rank 0's alone
  // A signal during the last step or the final save finds the run finished: its checkpoint
  // is whole, but the evaluation (minutes) is skipped and the exit status says so. (With
  // --no-eval nothing is left to skip: the run simply finished.)
  if (outcome == train::TrainOutcome::stopped || (signalled && eval)) {
    const int sig = train::StopOnSignals::received();
    const bool finished = outcome == train::TrainOutcome::finished;
    std::fprintf(
        stderr, "\ninterrupted (%s) after %sstep %lld; saved %s (%s)\n",
        sig == SIGINT    ? "SIGINT"
        : sig == SIGTERM ? "SIGTERM"
                         : "a signal to another rank",
        finished ? "the last " : "", static_cast<long long>(trainer.steps_done()), ckpt.c_str(),
        finished ? "training finished; evaluate it with flowtape eval" : "continue with --resume");
    return stopped_status();
  }
  if (last.step > 0) progress.finish(fields(last, c));
  print_summary(losses, trainer.steps_done(), c.steps,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                ckpt);
  if (eval) {
    const nlohmann::json m =
        evaluate_to_folder(trainer, folder->path(), {{"final_loss", last.loss}});
    std::printf("%s\n", m["metrics"].dump(2).c_str());
  }
  return 0;
}

// nll --data: the rows of a CSV or .npy file (by extension, as train --data reads them), rows
// holding nan or inf refused by row or, with drop_nonfinite, skipped and counted.
struct ReadPoints {
  Tensor values;
  std::int64_t dropped_rows = 0;
};

ReadPoints read_points(const std::string& path, bool drop_nonfinite) {
  if (!path.ends_with(".npy")) {
    const flows::CsvTable table = flows::read_csv(path, {.drop_nonfinite = drop_nonfinite});
    return {table.values, table.dropped_rows};
  }
  const Tensor table = train::read_table(path, DType::f32);
  const std::int64_t rows = table.shape()[0], columns = table.shape()[1];
  const std::vector<double> v = table.to_vector();
  std::vector<std::int64_t> kept;
  for (std::int64_t r = 0; r < rows; ++r) {
    bool finite = true;
    for (std::int64_t j = 0; j < columns; ++j)
      finite = finite && std::isfinite(v[static_cast<std::size_t>(r * columns + j)]);
    if (finite)
      kept.push_back(r);
    else if (!drop_nonfinite)
      throw std::runtime_error(path + ": row " + std::to_string(r) +
                               " holds nan or inf (skip such rows with --drop-nonfinite)");
  }
  const auto dropped = rows - static_cast<std::int64_t>(kept.size());
  return {dropped > 0 ? flows::take_rows(table, kept) : table, dropped};
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl;
  CLI::App& app = cl.app;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  try {
    // A FLOWTAPE_GEMM_KERNEL that names no usable kernel is refused here, before anything is
    // written, not at the first GEMM of a run.
    flowtape::kernels::cpu::tile_kernel();
    if (*cl.train)
      return run_train(cl.tb, cl.train_cli, cl.config_file, cl.out, cl.resume, cl.overwrite,
                       !cl.no_eval, cl.keep, cl.rank_timeout);
    if (*cl.sample_cmd) {
      // A file of the user's is replaced only when asked. Standard output ('-', /dev/stdout,
      // which may lead to a file the shell redirected it to) and devices are written into.
      std::error_code ec;
      const bool stream = cl.csv_out == "-" || cl.csv_out.rfind("/dev/", 0) == 0 ||
                          cl.csv_out.rfind("/proc/", 0) == 0;
      if (!cl.overwrite && !stream && std::filesystem::is_regular_file(cl.csv_out, ec))
        throw std::runtime_error(cl.csv_out +
                                 " exists; replace it with --overwrite, or choose another --out");
      auto t = load_model(cl.model, &cl.sb);
      Generator gen(cl.sample_seed);
      const Tensor c = conditions_from(cl, *t, cl.n, true);
      const auto s = generate(c.defined() ? t->field_for(c) : t->field(), cl.n, t->dataset().dim(),
                              t->spec(), gen);
      write_csv(cl.csv_out, t->standardization().undo(s.x),
                c.defined() && c.dtype() == DType::i64 ? c : Tensor());
      std::fprintf(stderr, "wrote %lld samples to %s (%ld function evaluations)\n",
                   static_cast<long long>(cl.n), cl.csv_out.c_str(), s.stats.nfe);
      return 0;
    }
    if (*cl.nll_cmd) {
      auto t = load_model(cl.model, &cl.nb);
      // Fresh points from a stream of their own: stream 0 of the same seed is the one a run
      // trained with --seed 0 draws its batches from, so its first batch would be scored.
      Generator gen(cl.sample_seed, 8);
      Tensor x;
      if (cl.data_csv.empty()) {
        x = t->dataset().sample(cl.n, gen);
      } else {
        const ReadPoints points = read_points(cl.data_csv, cl.drop_nonfinite);
        if (points.dropped_rows > 0)
          std::fprintf(stderr, "note: dropped %lld rows holding nan or inf\n",
                       static_cast<long long>(points.dropped_rows));
        x = points.values;
      }
      Tensor own_labels;  // --label-column: each point's class, from the file
      if (cl.nll_label_column >= 0) {
        if (cl.data_csv.empty() || cl.nll_label_column >= x.shape()[1] || cl.condition_class >= 0 ||
            !cl.condition_context.empty())
          throw std::runtime_error(
              "--label-column names a column of --data (not with --class or "
              "--context)");
        std::vector<double> points, labels;
        const std::vector<double> v = x.to_vector();
        const std::int64_t w = x.shape()[1];
        for (std::size_t i = 0; i < v.size(); ++i)
          (static_cast<std::int64_t>(i) % w == cl.nll_label_column ? labels : points)
              .push_back(v[i]);
        if (t->condition().kind != flows::ConditionKind::labels)
          throw std::runtime_error("--label-column: the model is not conditioned on class labels");
        for (double l : labels)
          if (!(l >= 0 && l == std::floor(l) && l < double(t->condition().classes)))
            throw std::runtime_error("--label-column: " + std::to_string(l) +
                                     " is not a class of the model (0 .. " +
                                     std::to_string(t->condition().classes - 1) + ")");
        x = from_vector(points, Shape{x.shape()[0], w - 1}, x.dtype());
        own_labels = from_vector(labels, Shape{x.shape()[0]}, DType::i64);
      }
      if (x.shape()[1] != t->dataset().dim()) {
        throw std::runtime_error("the data has " + std::to_string(x.shape()[1]) +
                                 " columns but the model is " + std::to_string(t->dataset().dim()) +
                                 "-D");
      }
      flows::LikelihoodOptions o;
      o.solver.rtol = t->spec().rtol;
      o.solver.atol = t->spec().atol;
      // Scored in the model's (standardised) space; the Jacobian term turns it into data space.
      const Tensor c =
          own_labels.defined() ? own_labels : conditions_from(cl, *t, x.shape()[0], false);
      const double nats = flows::mean_nll(flows::log_likelihood(
                              c.defined() ? flows::bind(t->conditional_field(), c) : t->field(),
                              t->standardization().apply(x), o)) +
                          t->standardization().log_scale();
      // JSON has no inf or nan: a non-finite NLL (a point where the model's density underflows
      // to 0) is null, with the reason beside it and on stderr.
      nlohmann::ordered_json out;
      out["nll_nats"] = std::isfinite(nats) ? nlohmann::json(nats) : nlohmann::json(nullptr);
      out["nll_bits_per_dim"] = std::isfinite(nats)
                                    ? nlohmann::json(flows::bits_per_dim(nats, x.shape()[1]))
                                    : nlohmann::json(nullptr);
      out["points"] = x.shape()[0];
      if (!std::isfinite(nats)) {
        out["note"] = "the mean NLL is not finite (" + std::to_string(nats) +
                      "): the model gives some point a density of 0 or a non-finite one";
        std::fprintf(stderr, "note: %s\n", out["note"].get<std::string>().c_str());
      }
      std::printf("%s\n", out.dump().c_str());
      return 0;
    }
    if (*cl.eval_cmd) {
      using train::RunFolder;
      RunFolder folder(cl.eval_out,
                       cl.overwrite ? RunFolder::Existing::overwrite : RunFolder::Existing::refuse,
                       RunFolder::Writer::evaluation);
      auto t = load_model(cl.model, &cl.eb, /*with_data=*/true);
      folder.clear_previous_run();  // --overwrite: only now that the model loaded
      const nlohmann::json m = evaluate_to_folder(*t, cl.eval_out);
      std::printf("%s\n", m["metrics"].dump(2).c_str());
      return 0;
    }
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory; lower --batch, --hidden, -n or --eval-samples\n");
    abort_ranks(1);
    return 1;
  } catch (const train::CollectiveError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    abort_ranks(4);  // the other ranks wait on this one: end them too
    return 4;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    abort_ranks(1);
    return 1;
  }
  return 0;
}
