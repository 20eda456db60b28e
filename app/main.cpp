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
// is locked while a run trains in it; training into a folder that holds a run needs --resume
// or --overwrite. Exit codes:
// 0 success, 1 error, 2 bad command line, 3 training stopped on a non-finite value (the last
// good checkpoint is kept), 130 / 143 interrupted by SIGINT / SIGTERM (a checkpoint of the
// last finished step is saved first).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <vector>

#include "app/cli.hpp"
#include "app/evaluate.hpp"
#include "app/progress.hpp"
#include "flowtape/flows/csv.hpp"
#include "flowtape/flows/likelihood.hpp"
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

// A trainer whose model holds the weights of a checkpoint written by `flowtape train`.
std::unique_ptr<Trainer> load_model(const std::string& path, const Binder* overrides) {
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
  validate(c);                         // a crafted file's sizes are bounded like the command line's
  auto t = std::make_unique<Trainer>(c);
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

int run_train(const Binder& b, const TrainSpec& cli, const std::string& config_file,
              const std::string& out, bool resume, bool overwrite, bool eval, std::int64_t keep) {
  // Without a config file or a run to resume, the command line is the whole configuration:
  // a bad value is a bad command line (exit 2). With one, the merged configuration is checked
  // below, and an error there is exit 1 (the file's value, or a combination, may be at fault).
  if (config_file.empty() && !resume) {
    try {
      validate(cli);
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 2;
    }
  }
  using train::RunFolder;
  RunFolder folder(out, resume      ? RunFolder::Existing::resume
                        : overwrite ? RunFolder::Existing::overwrite
                                    : RunFolder::Existing::refuse);
  const std::string ckpt = folder.checkpoint();
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
  } else if (!config_file.empty()) {
    c = read_config_file(config_file);
    b.apply(c);
  }
  validate(c);
  Trainer trainer(c);           // refuses an unusable device before anything is written
  folder.clear_previous_run();  // --overwrite: only now that the new run can start
  if (resume) {
    trainer.resume(checkpoint, ckpt);
    std::fprintf(stderr, "resumed %s at step %lld\n", ckpt.c_str(),
                 static_cast<long long>(trainer.steps_done()));
  }
  write_text_file(folder.file("config.json"),
                  nlohmann::ordered_json::parse(train::to_json(c)).dump(2) + "\n");
  if (trainer.steps_done() >= c.steps)
    std::fprintf(stderr, "nothing to train: the run is at step %lld of %lld (raise --steps)\n",
                 static_cast<long long>(trainer.steps_done()), static_cast<long long>(c.steps));
  Progress progress("train", c.steps, trainer.steps_done());
  train::MetricsLog log(folder.file("metrics.csv"), resume ? trainer.steps_done() : 0);
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
              [&](const Trainer& t) { folder.save_checkpoint(t, c.checkpoint_every, keep); },
          .stop = [] { return train::StopOnSignals::received() != 0; },
      });
    } catch (const TrainingError& e) {
      log.flush();
      std::fprintf(stderr, "\nerror: %s\n", e.what());
      if (std::filesystem::exists(ckpt))
        std::fprintf(stderr, "the last good checkpoint is %s\n", ckpt.c_str());
      return 3;
    }
  }
  log.flush();
  if (outcome == train::TrainOutcome::stopped) {
    const int sig = train::StopOnSignals::received();
    std::fprintf(stderr, "\ninterrupted (%s) after step %lld; saved %s (continue with --resume)\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", static_cast<long long>(trainer.steps_done()),
                 ckpt.c_str());
    return 128 + sig;
  }
  if (last.step > 0) progress.finish(fields(last, c));
  print_summary(losses, trainer.steps_done(), c.steps,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                ckpt);
  if (eval) {
    const nlohmann::json m = evaluate_to_folder(trainer.field(), trainer.dataset(), c,
                                                folder.path(), {{"final_loss", last.loss}});
    std::printf("%s\n", m["metrics"].dump(2).c_str());
  }
  return 0;
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
    if (*cl.train)
      return run_train(cl.tb, cl.train_cli, cl.config_file, cl.out, cl.resume, cl.overwrite,
                       !cl.no_eval, cl.keep);
    if (*cl.sample_cmd) {
      auto t = load_model(cl.model, &cl.sb);
      Generator gen(cl.sample_seed);
      const auto s = generate(t->field(), cl.n, t->dataset().dim(), t->spec(), gen);
      write_csv(cl.csv_out, s.x);
      std::fprintf(stderr, "wrote %lld samples to %s (%ld function evaluations)\n",
                   static_cast<long long>(cl.n), cl.csv_out.c_str(), s.stats.nfe);
      return 0;
    }
    if (*cl.nll_cmd) {
      auto t = load_model(cl.model, &cl.nb);
      Generator gen(cl.sample_seed);
      Tensor x;
      if (cl.data_csv.empty()) {
        x = t->dataset().sample(cl.n, gen);
      } else {
        const flows::CsvTable table =
            flows::read_csv(cl.data_csv, {.drop_nonfinite = cl.drop_nonfinite});
        if (table.dropped_rows > 0)
          std::fprintf(stderr, "note: dropped %lld rows holding nan or inf\n",
                       static_cast<long long>(table.dropped_rows));
        x = table.values;
      }
      if (x.shape()[1] != t->dataset().dim()) {
        throw std::runtime_error("the data has " + std::to_string(x.shape()[1]) +
                                 " columns but the model is " + std::to_string(t->dataset().dim()) +
                                 "-D");
      }
      flows::LikelihoodOptions o;
      o.solver.rtol = t->spec().rtol;
      o.solver.atol = t->spec().atol;
      const double nats = flows::mean_nll(flows::log_likelihood(t->field(), x, o));
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
      auto t = load_model(cl.model, &cl.eb);
      const nlohmann::json m = evaluate_to_folder(t->field(), t->dataset(), t->spec(), cl.eval_out);
      std::printf("%s\n", m["metrics"].dump(2).c_str());
      return 0;
    }
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory; lower --batch, --hidden, -n or --eval-samples\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
