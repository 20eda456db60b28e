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
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "examples/app/config.hpp"
#include "examples/app/evaluate.hpp"
#include "examples/app/progress.hpp"
#include "examples/app/trainer.hpp"
#include "flows/likelihood.hpp"

using namespace flowtape;
using namespace flowtape::app;

namespace {

// Binds an option to a TrainConfig field and remembers how to copy it onto another config
// when it was given on the command line (so a --config file or a resumed run's config is the
// base and the command line overrides it).
struct Binder {
  CLI::App* app;
  TrainConfig* cli;
  std::vector<std::function<void(TrainConfig&)>> overrides;

  template <class T>
  CLI::Option* option(const std::string& name, T TrainConfig::*field, const std::string& help) {
    CLI::Option* o = app->add_option(name, cli->*field, help)->capture_default_str();
    overrides.push_back([o, field, c = cli](TrainConfig& dst) {
      if (o->count() > 0) dst.*field = c->*field;
    });
    return o;
  }
  CLI::Option* flag(const std::string& name, bool TrainConfig::*field, const std::string& help) {
    CLI::Option* o = app->add_flag(name, cli->*field, help);
    overrides.push_back([o, field, c = cli](TrainConfig& dst) {
      if (o->count() > 0) dst.*field = c->*field;
    });
    return o;
  }
  void apply(TrainConfig& dst) const {
    for (const auto& f : overrides) f(dst);
  }
};

void add_training_options(Binder& b) {
  const auto set = [](std::vector<std::string> v) { return CLI::IsMember(std::move(v)); };
  b.option("--dataset", &TrainConfig::dataset, "training data")
      ->check(
          set({"rings", "checkerboard", "8gaussians", "moons", "spirals", "gmm1d", "gaussian"}));
  b.option("--train-size", &TrainConfig::train_size,
           "fixed training set size (0: fresh data every step)");
  b.option("--path", &TrainConfig::path, "probability path")
      ->check(set({"rectified", "lipman", "independent", "vp"}));
  b.option("--sigma", &TrainConfig::sigma,
           "sigma_min of the lipman path, sigma of the independent path");
  b.option("--coupling", &TrainConfig::coupling, "pairing of noise and data")
      ->check(set({"independent", "ot", "fixed"}));
  b.option("--loss", &TrainConfig::loss, "objective")
      ->check(set({"cfm", "entropic", "fdm", "efm"}));
  b.option("--lambda-max", &TrainConfig::lambda_max, "entropic: lambda after the ramp");
  b.option("--ramp-start", &TrainConfig::ramp_start,
           "entropic: ramp start, a fraction of the steps");
  b.option("--ramp-end", &TrainConfig::ramp_end,
           "entropic: ramp end, a fraction of the steps (0: constant lambda)");
  b.option("--fdm-weight", &TrainConfig::fdm_weight, "fdm: weight of the divergence term");
  b.option("--probes", &TrainConfig::probes, "fdm: Hutchinson probes per sample");
  b.option("--probe", &TrainConfig::probe, "fdm: probe distribution")
      ->check(set({"gaussian", "rademacher"}));
  b.flag("--exact-divergence", &TrainConfig::exact_divergence,
         "fdm: exact trace (d JVPs) instead of Hutchinson");
  b.option("--efm-extra", &TrainConfig::efm_extra, "efm: extra reference points per batch");
  b.option("--hidden", &TrainConfig::hidden, "hidden width of the velocity MLP");
  b.option("--depth", &TrainConfig::depth, "hidden layers of the velocity MLP");
  b.option("--activation", &TrainConfig::activation, "activation")
      ->check(set({"relu", "silu", "tanh", "gelu", "softplus"}));
  b.option("--time-embedding", &TrainConfig::time_embedding, "time embedding")
      ->check(set({"raw", "sinusoidal", "fourier"}));
  b.option("--steps", &TrainConfig::steps, "training steps");
  b.option("--batch", &TrainConfig::batch, "batch size");
  b.option("--lr", &TrainConfig::lr, "peak learning rate (Adam)");
  b.option("--schedule", &TrainConfig::schedule, "learning-rate schedule")
      ->check(set({"constant", "warmup", "cosine"}));
  b.option("--warmup", &TrainConfig::warmup, "warm-up steps");
  b.option("--weight-decay", &TrainConfig::weight_decay, "AdamW decoupled weight decay (0: Adam)");
  b.option("--grad-clip", &TrainConfig::grad_clip, "clip gradients to this global norm (0: off)");
  b.option("--seed", &TrainConfig::seed, "random seed: same seed, same run");
  b.option("--checkpoint-every", &TrainConfig::checkpoint_every,
           "also checkpoint every k steps (0: only at the end)");
}

void add_sampling_options(Binder& b) {
  b.option("--solver", &TrainConfig::solver,
           "ODE solver for sampling (euler, midpoint, heun, rk4, bosh3, dopri5, tsit5, dopri8)");
  b.option("--rtol", &TrainConfig::rtol, "relative tolerance of adaptive solvers");
  b.option("--atol", &TrainConfig::atol, "absolute tolerance of adaptive solvers");
  b.option("--euler-steps", &TrainConfig::euler_steps, "steps of fixed-step solvers");
  b.option("--eval-samples", &TrainConfig::eval_samples, "samples generated for evaluation");
  b.flag("--nll,!--no-nll", &TrainConfig::nll,
         "estimate the NLL of held-out data during evaluation");
  b.option("--nll-samples", &TrainConfig::nll_samples, "held-out points for the NLL");
}

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
  const nn::Metadata meta = nn::load_safetensors(path).metadata;
  if (!meta.count("config")) {
    throw std::runtime_error(path +
                             " is not a flowtape training checkpoint (no config in its metadata)");
  }
  TrainConfig c = config_from_json(nlohmann::json::parse(meta.at("config")));
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
    c = config_from_json(nlohmann::json::parse(nn::load_safetensors(ckpt).metadata.at("config")));
    b.apply(c);
  } else if (!config_file.empty()) {
    c = read_config_file(config_file);
    b.apply(c);
  }
  validate(c);
  std::filesystem::create_directories(out);
  Trainer trainer(c);
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
  CLI::App app{"flowtape: flow-matching training with no ML framework"};
  app.require_subcommand(1);

  TrainConfig cli;
  CLI::App* train =
      app.add_subcommand("train", "train a velocity field, then evaluate it into --out");
  Binder tb{train, &cli, {}};
  add_training_options(tb);
  add_sampling_options(tb);
  std::string config_file, out = "runs/latest";
  bool resume = false, no_eval = false;
  train->add_option("--config", config_file,
                    "JSON file of settings (command-line options override it)");
  train->add_option("--out", out, "run folder")->capture_default_str();
  train->add_flag("--resume", resume, "continue the run in --out from its checkpoint");
  train->add_flag("--no-eval", no_eval, "skip sampling, metrics and plots after training");

  TrainConfig sample_cli;
  std::string model, csv_out = "samples.csv", data_csv, eval_out = "runs/eval";
  std::int64_t n = 1000;
  std::uint64_t sample_seed = 0;
  CLI::App* sample_cmd = app.add_subcommand("sample", "draw samples from a trained model as CSV");
  Binder sb{sample_cmd, &sample_cli, {}};
  sample_cmd->add_option("--model", model, "checkpoint written by train")
      ->required()
      ->check(CLI::ExistingFile);
  sample_cmd->add_option("-n,--count", n, "number of samples")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sample_cmd->add_option("--out", csv_out, "CSV file to write")->capture_default_str();
  sample_cmd->add_option("--seed", sample_seed, "seed of the source noise")->capture_default_str();
  sb.option("--solver", &TrainConfig::solver, "ODE solver");
  sb.option("--rtol", &TrainConfig::rtol, "relative tolerance");
  sb.option("--atol", &TrainConfig::atol, "absolute tolerance");
  sb.option("--euler-steps", &TrainConfig::euler_steps, "steps of fixed-step solvers");

  TrainConfig nll_cli;
  CLI::App* nll_cmd =
      app.add_subcommand("nll", "negative log-likelihood of data under a trained model");
  Binder nb{nll_cmd, &nll_cli, {}};
  nll_cmd->add_option("--model", model, "checkpoint written by train")
      ->required()
      ->check(CLI::ExistingFile);
  nll_cmd
      ->add_option("--data", data_csv,
                   "CSV of points (default: fresh points of the model's dataset)")
      ->check(CLI::ExistingFile);
  nll_cmd->add_option("-n,--count", n, "fresh points when --data is not given")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  nll_cmd->add_option("--seed", sample_seed, "seed of the fresh points")->capture_default_str();
  nb.option("--rtol", &TrainConfig::rtol, "relative tolerance");
  nb.option("--atol", &TrainConfig::atol, "absolute tolerance");

  TrainConfig eval_cli;
  CLI::App* eval_cmd = app.add_subcommand("eval", "samples, metrics and plots of a trained model");
  Binder eb{eval_cmd, &eval_cli, {}};
  eval_cmd->add_option("--model", model, "checkpoint written by train")
      ->required()
      ->check(CLI::ExistingFile);
  eval_cmd->add_option("--out", eval_out, "folder for the outputs")->capture_default_str();
  add_sampling_options(eb);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  try {
    if (*train) return run_train(tb, cli, config_file, out, resume, !no_eval);
    if (*sample_cmd) {
      auto t = load_model(model, &sb);
      Generator gen(sample_seed);
      const auto s = generate(t->field(), n, t->dataset().dim(), t->config(), gen);
      write_csv(csv_out, s.x);
      std::fprintf(stderr, "wrote %lld samples to %s (%ld function evaluations)\n",
                   static_cast<long long>(n), csv_out.c_str(), s.stats.nfe);
      return 0;
    }
    if (*nll_cmd) {
      auto t = load_model(model, &nb);
      Generator gen(sample_seed);
      const Tensor x = data_csv.empty() ? t->dataset().sample(n, gen) : read_csv(data_csv);
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
    if (*eval_cmd) {
      auto t = load_model(model, &eb);
      const nlohmann::json m = evaluate_to_folder(t->field(), t->dataset(), t->config(), eval_out);
      std::printf("%s\n", m["metrics"].dump(2).c_str());
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
