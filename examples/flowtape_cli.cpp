// SPDX-License-Identifier: MIT
// flowtape: the command-line trainer.
//
//   flowtape train  --dataset rings --loss entropic --out runs/rings   train, then evaluate
//   flowtape sample --model runs/rings/model.safetensors -n 1000      samples as CSV
//   flowtape nll    --model ... [--data points.csv | -n 1000]         negative log-likelihood
//   flowtape eval   --model ... --out folder                          samples, metrics, plots
//
// A run folder holds model.safetensors (model, optimizer, generator state and config),
// config.json, samples.csv, metrics.json and PNG plots. Exit codes: 0 success, 1 error,
// 2 bad command line, 3 training stopped on a non-finite value (the last checkpoint is kept).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "examples/app/cli.hpp"
#include "examples/app/config.hpp"
#include "examples/app/evaluate.hpp"
#include "examples/app/progress.hpp"
#include "examples/app/trainer.hpp"
#include "flowtape/flows/likelihood.hpp"

using namespace flowtape;
using namespace flowtape::app;

namespace {

TrainConfig read_config_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open the config file " + path);
  try {
    return config_from_json(nlohmann::json::parse(f));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

// A trainer whose model holds the weights of a checkpoint written by `flowtape train`.
std::unique_ptr<Trainer> load_model(const std::string& path, const Binder* overrides) {
  TrainConfig c = config_from_checkpoint(path);
  // A run trained on a GPU still samples and evaluates on a machine without one (its weights
  // are the same): the cpu, said on stderr; an explicit --device cuda is still refused there.
  if (c.device == "cuda" && cuda_device_count() == 0) {
    std::fprintf(stderr,
                 "note: %s was trained with --device cuda; no CUDA device here, using the cpu\n",
                 path.c_str());
    c.device = "cpu";
  }
  if (overrides) overrides->apply(c);  // sampling settings only
  auto t = std::make_unique<Trainer>(c);
  t->resume(path);
  return t;
}

std::string fields(const StepReport& r, const TrainConfig& c) {
  char buf[128];
  if (c.loss == "entropic") {
    std::snprintf(buf, sizeof buf, "loss %.4f  lambda %.3f  lr %.2e", r.loss, r.lambda, r.lr);
  } else {
    std::snprintf(buf, sizeof buf, "loss %.4f  lr %.2e", r.loss, r.lr);
  }
  return buf;
}

int run_train(const Binder& b, const TrainConfig& cli, const std::string& config_file,
              const std::string& out, bool resume, bool eval) {
  const std::string ckpt = out + "/model.safetensors";
  TrainConfig c = cli;
  if (resume) {
    if (!std::filesystem::exists(ckpt))
      throw std::runtime_error("--resume: no checkpoint at " + ckpt);
    c = config_from_checkpoint(ckpt);
    b.apply(c);
  } else if (!config_file.empty()) {
    c = read_config_file(config_file);
    b.apply(c);
  }
  validate(c);
  Trainer trainer(c);  // refuses an unusable device before anything is written
  std::filesystem::create_directories(out);
  if (resume) {
    trainer.resume(ckpt);
    std::fprintf(stderr, "resumed %s at step %lld\n", ckpt.c_str(),
                 static_cast<long long>(trainer.steps_done()));
  }
  write_text_file(out + "/config.json", to_json(c).dump(2) + "\n");
  Progress progress("train", c.steps);
  StepReport last{};
  try {
    trainer.train([&](const StepReport& r) { progress.update(r.step, fields(last = r, c)); }, ckpt);
  } catch (const TrainingError& e) {
    std::fprintf(stderr, "\nerror: %s\n", e.what());
    if (std::filesystem::exists(ckpt)) {
      std::fprintf(stderr, "the last good checkpoint is %s\n", ckpt.c_str());
    }
    return 3;
  }
  progress.finish(fields(last, c));
  std::fprintf(stderr, "saved %s\n", ckpt.c_str());
  if (eval) {
    const nlohmann::json m =
        evaluate_to_folder(trainer.field(), trainer.dataset(), c, out, {{"final_loss", last.loss}});
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
      return run_train(cl.tb, cl.train_cli, cl.config_file, cl.out, cl.resume, !cl.no_eval);
    if (*cl.sample_cmd) {
      auto t = load_model(cl.model, &cl.sb);
      Generator gen(cl.sample_seed);
      const auto s = generate(t->field(), cl.n, t->dataset().dim(), t->config(), gen);
      write_csv(cl.csv_out, s.x);
      std::fprintf(stderr, "wrote %lld samples to %s (%ld function evaluations)\n",
                   static_cast<long long>(cl.n), cl.csv_out.c_str(), s.stats.nfe);
      return 0;
    }
    if (*cl.nll_cmd) {
      auto t = load_model(cl.model, &cl.nb);
      Generator gen(cl.sample_seed);
      const Tensor x = cl.data_csv.empty() ? t->dataset().sample(cl.n, gen) : read_csv(cl.data_csv);
      if (x.shape()[1] != t->dataset().dim()) {
        throw std::runtime_error("the data has " + std::to_string(x.shape()[1]) +
                                 " columns but the model is " + std::to_string(t->dataset().dim()) +
                                 "-D");
      }
      flows::LikelihoodOptions o;
      o.solver.rtol = t->config().rtol;
      o.solver.atol = t->config().atol;
      const double nats = flows::mean_nll(flows::log_likelihood(t->field(), x, o));
      std::printf("{\"nll_nats\": %.6f, \"nll_bits_per_dim\": %.6f, \"points\": %lld}\n", nats,
                  flows::bits_per_dim(nats, x.shape()[1]), static_cast<long long>(x.shape()[0]));
      return 0;
    }
    if (*cl.eval_cmd) {
      auto t = load_model(cl.model, &cl.eb);
      const nlohmann::json m =
          evaluate_to_folder(t->field(), t->dataset(), t->config(), cl.eval_out);
      std::printf("%s\n", m["metrics"].dump(2).c_str());
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
