// SPDX-License-Identifier: MIT
// The `flowtape` command line's grammar; see cli.hpp.
#include "app/cli.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "flowtape/config.hpp"
#include "flowtape/flows/datasets.hpp"
#include "flowtape/solvers/options.hpp"

namespace flowtape::app {
namespace {

CLI::Validator fraction_below_one();  // below

// A whole number >= `least`, with a short message (CLI11's range check quotes the range up to
// 1.8e308). Also keeps "-1" from wrapping round in an unsigned option.
CLI::Validator whole_number(
    unsigned long long least,
    unsigned long long most = std::numeric_limits<unsigned long long>::max()) {
  return CLI::Validator(
      [least, most](std::string& s) -> std::string {
        std::size_t used = 0;
        unsigned long long v = 0;
        try {
          // stoull would wrap "-1" round to 2^64 - 1.
          if (!s.empty() && s[0] != '-') v = std::stoull(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != s.size() || v < least || v > most)
          return "must be a whole number in [" + std::to_string(least) + ", " +
                 std::to_string(most) + "], got '" + s.substr(0, 24) +
                 (s.size() > 24 ? "...'" : "'");
        return "";
      },
      "INT>=" + std::to_string(least));
}

void add_training_options(Binder& b) {
  b.option("--dataset", &train::TrainSpec::dataset, "training data")
      ->check(CLI::IsMember(flows::dataset_names()));
  b.option("--train-size", &train::TrainSpec::train_size,
           "fixed training set size (0: fresh data every step)");
  b.option("--data", &train::TrainSpec::data,
           "your own points: a CSV (header optional) or .npy file, one row per point, instead "
           "of --dataset")
      ->check(CLI::ExistingFile);
  b.option("--label-column", &train::TrainSpec::label_column,
           "the --data column (from 0) that holds class labels (implies --conditional)");
  b.option("--labels", &train::TrainSpec::labels,
           "a CSV / .npy of one class label per --data row (implies --conditional)")
      ->check(CLI::ExistingFile);
  b.option("--context", &train::TrainSpec::context,
           "a CSV / .npy of one context vector per --data row (implies --conditional)")
      ->check(CLI::ExistingFile);
  b.flag("--standardize", &train::TrainSpec::standardize,
         "train on --data standardised per column (sampling undoes it)");
  b.option("--holdout", &train::TrainSpec::holdout,
           "fraction of --data rows held out for the metrics")
      ->check(fraction_below_one());
  b.flag("--conditional", &train::TrainSpec::conditional,
         "learn v(x, t, c) on the data's labels or context (8gaussians: its components)");
  b.option("--cond-drop", &train::TrainSpec::cond_drop,
           "fraction of rows trained with no condition (for guidance)")
      ->check(fraction_below_one());
  b.option("--condition-dim", &train::TrainSpec::condition_dim, "width of the label embedding");
  b.option("--conditioning", &train::TrainSpec::conditioning,
           "how the condition enters the network: concat (the first layer's input) or film "
           "(scales and shifts of every hidden layer)");
  b.option("--path", &train::TrainSpec::path, "probability path");
  b.option("--sigma", &train::TrainSpec::sigma,
           "sigma_min of the lipman path, sigma of the independent path");
  b.option("--coupling", &train::TrainSpec::coupling, "pairing of noise and data");
  b.option("--loss", &train::TrainSpec::loss, "objective");
  b.option("--lambda-max", &train::TrainSpec::lambda_max, "entropic: lambda after the ramp");
  b.option("--ramp-start", &train::TrainSpec::ramp_start,
           "entropic: ramp start, a fraction of the steps");
  b.option("--ramp-end", &train::TrainSpec::ramp_end,
           "entropic: ramp end, a fraction of the steps (0: constant lambda)");
  b.option("--tilt", &train::TrainSpec::tilt,
           "entropic: the residuals tilted together (batch, within time bins, late only, or per "
           "point over a reference set)");
  b.option("--tilt-bins", &train::TrainSpec::tilt_bins, "entropic, time_bins: bins of t");
  b.option("--tilt-from", &train::TrainSpec::tilt_from, "entropic, late: the earliest t tilted");
  b.option("--fdm-weight", &train::TrainSpec::fdm_weight, "fdm: weight of the divergence term");
  b.flag("--fdm-official", &train::TrainSpec::fdm_official,
         "fdm: the official 2-D code's loss (adds the Jacobian column-sum term; --fdm-weight is "
         "its reg)");
  b.option("--probes", &train::TrainSpec::probes, "fdm: Hutchinson probes per sample");
  b.option("--probe", &train::TrainSpec::probe, "fdm: probe distribution");
  b.flag("--exact-divergence", &train::TrainSpec::exact_divergence,
         "fdm: exact trace (d JVPs) instead of Hutchinson");
  b.option("--efm-extra", &train::TrainSpec::efm_extra,
           "efm, entropic point tilt: extra reference points per batch");
  b.option("--hidden", &train::TrainSpec::hidden, "hidden width of the velocity MLP");
  b.option("--depth", &train::TrainSpec::depth, "hidden layers of the velocity MLP");
  b.option("--activation", &train::TrainSpec::activation, "activation");
  b.option("--time-embedding", &train::TrainSpec::time_embedding, "time embedding");
  b.option("--steps", &train::TrainSpec::steps, "training steps");
  b.option("--batch", &train::TrainSpec::batch, "batch size");
  b.option("--lr", &train::TrainSpec::lr, "peak learning rate (Adam)");
  b.option("--schedule", &train::TrainSpec::schedule, "learning-rate schedule");
  b.option("--warmup", &train::TrainSpec::warmup, "warm-up steps");
  b.option("--lr-decay", &train::TrainSpec::lr_decay, "step schedule: factor per decay");
  b.option("--lr-decay-every", &train::TrainSpec::lr_decay_every,
           "step schedule: steps between decays");
  b.option("--schedule-steps", &train::TrainSpec::schedule_steps,
           "horizon of the cosine decay and the entropic ramp (0: --steps; a resumed run keeps "
           "its own)");
  b.option("--shards", &train::TrainSpec::shards,
           "split each batch into this many micro-batches (a power of two), summed in a fixed "
           "order: the same bits on any number of threads or MPI ranks");
  b.option("--shard-threads", &train::TrainSpec::shard_threads,
           "threads computing the shards (does not change the result)");
  b.option("--weight-decay", &train::TrainSpec::weight_decay,
           "AdamW decoupled weight decay (0: Adam)");
  b.option("--grad-clip", &train::TrainSpec::grad_clip,
           "clip gradients to this global norm (0: off)");
  b.option("--seed", &train::TrainSpec::seed, "random seed: same seed, same run")
      ->check(whole_number(0));
  b.option("--checkpoint-every", &train::TrainSpec::checkpoint_every,
           "also checkpoint every k steps (0: only at the end)");
}

// The value of s if the whole of it is one finite number (std::stod stops early: "2abc").
std::optional<double> finite_number(const std::string& s) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// A finite number above 0 (a solver's tolerances).
CLI::Validator finite_positive() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        const std::optional<double> v = finite_number(s);
        if (!v || !(*v > 0))
          return "must be a finite number above 0, got '" + s.substr(0, 24) + "'";
        return "";
      },
      "NUMBER>0");
}

// A fraction in [0, 1), as the settings check takes --holdout and --cond-drop.
CLI::Validator fraction_below_one() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        const std::optional<double> v = finite_number(s);
        if (!v || !(*v >= 0 && *v < 1))
          return "must be a fraction in [0, 1), got '" + s.substr(0, 24) + "'";
        return "";
      },
      "FRACTION in [0, 1)");
}

// The solver options' static ranges, the same as the settings check's (train/spec.cpp), so a
// bad value on any subcommand's command line is exit 2.
CLI::Validator euler_steps_range() {
  return whole_number(1, static_cast<unsigned long long>(solvers::IntegrateOptions{}.max_steps));
}

void add_sampling_options(Binder& b) {
  b.option("--solver", &train::TrainSpec::solver, "ODE solver for sampling");
  b.option("--rtol", &train::TrainSpec::rtol, "relative tolerance of adaptive solvers")
      ->check(finite_positive());
  b.option("--atol", &train::TrainSpec::atol, "absolute tolerance of adaptive solvers")
      ->check(finite_positive());
  b.option("--euler-steps", &train::TrainSpec::euler_steps, "steps of fixed-step solvers")
      ->check(euler_steps_range());
  b.option("--device", &train::TrainSpec::device, "where to train and sample: cpu or cuda");
  b.option("--guidance", &train::TrainSpec::guidance,
           "conditional models: classifier-free guidance scale w at sampling (0: none)")
      ->check(finite_at_least(-1e6));
  b.option("--eval-samples", &train::TrainSpec::eval_samples, "samples generated for evaluation")
      ->check(whole_number(2, 1u << 24));
  b.flag("--nll,!--no-nll", &train::TrainSpec::nll,
         "estimate the NLL of held-out data during evaluation");
  b.option("--nll-samples", &train::TrainSpec::nll_samples, "held-out points for the NLL")
      ->check(whole_number(1, 1u << 24));
}

}  // namespace

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

int run_reporting_errors(const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

CLI::Validator finite_at_least(double least, double most) {
  const auto text = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  const bool bounded = std::isfinite(most);
  const std::string range =
      bounded ? "in [" + text(least) + ", " + text(most) + "]" : "of at least " + text(least);
  return CLI::Validator(
      [least, most, range](std::string& s) -> std::string {
        const std::optional<double> v = finite_number(s);
        if (!v || *v < least || *v > most)
          return "must be a finite number " + range + ", got '" + s.substr(0, 24) +
                 (s.size() > 24 ? "...'" : "'");
        return "";
      },
      bounded ? "NUM in [" + text(least) + ", " + text(most) + "]" : "NUM>=" + text(least));
}

CommandLine::CommandLine() {
  app.require_subcommand(1);
  app.set_version_flag("--version", "flowtape " FLOWTAPE_VERSION_STRING);

  train = app.add_subcommand("train", "train a velocity field, then evaluate it into --out");
  tb.app = train;
  add_training_options(tb);
  add_sampling_options(tb);
  CLI::Option* config_option = train->add_option(
      "--config", config_file, "JSON file of settings (command-line options override it)");
  train->add_option("--out", out, "run folder")->capture_default_str();
  CLI::Option* resume_flag =
      train->add_flag("--resume", resume, "continue the run in --out from its checkpoint")
          ->excludes(config_option);
  train->add_flag("--overwrite", overwrite, "replace the run already in --out (its files only)")
      ->excludes(resume_flag);
  train
      ->add_option("--keep", keep,
                   "with --checkpoint-every: how many checkpoints/step-N files to keep (newest)")
      ->capture_default_str()
      ->check(whole_number(1, std::uint64_t{1} << 26));
  train->add_flag("--no-eval", no_eval, "skip sampling, metrics and plots after training");
  train
      ->add_option("--rank-timeout", rank_timeout,
                   "under mpirun: seconds a rank waits for the others before the job ends "
                   "(exit 4)")
      ->capture_default_str()
      ->check(finite_at_least(0.001, 1e6));  // (about 11 days: its milliseconds fit any clock)

  sample_cmd = app.add_subcommand("sample", "draw samples from a trained model as CSV");
  sb.app = sample_cmd;
  sample_cmd->add_option("--model", model, "checkpoint written by train")
      ->required()
      ->check(CLI::ExistingFile);
  sample_cmd->add_option("-n,--count", n, "number of samples")
      ->capture_default_str()
      ->check(whole_number(1, std::uint64_t{1} << 26));
  sample_cmd->add_option("--out", csv_out, "CSV file to write ('-': standard output)")
      ->capture_default_str();
  sample_cmd->add_flag("--overwrite", overwrite, "replace the --out file if it exists");
  sample_cmd->add_option("--seed", sample_seed, "seed of the source noise")
      ->capture_default_str()
      ->check(whole_number(0));
  sample_cmd
      ->add_option("--class", condition_class,
                   "conditional models: the class of every sample (default: the classes in turn)")
      ->check(whole_number(0, 1u << 30));
  sample_cmd->add_option("--context", condition_context,
                         "conditional models: the context vector of every sample, \"a,b,...\"");
  sb.option("--guidance", &train::TrainSpec::guidance, "classifier-free guidance scale w")
      ->check(finite_at_least(-1e6));
  sb.option("--solver", &train::TrainSpec::solver, "ODE solver");
  sb.option("--rtol", &train::TrainSpec::rtol, "relative tolerance")->check(finite_positive());
  sb.option("--atol", &train::TrainSpec::atol, "absolute tolerance")->check(finite_positive());
  sb.option("--euler-steps", &train::TrainSpec::euler_steps, "steps of fixed-step solvers")
      ->check(euler_steps_range());
  sb.option("--device", &train::TrainSpec::device,
            "where to sample: cpu or cuda (default: the run's)");

  nll_cmd = app.add_subcommand("nll", "negative log-likelihood of data under a trained model");
  nb.app = nll_cmd;
  nll_cmd->add_option("--model", model, "checkpoint written by train")
      ->required()
      ->check(CLI::ExistingFile);
  nll_cmd
      ->add_option("--data", data_csv,
                   "CSV or .npy file of points (default: fresh points of the model's dataset)")
      ->check(CLI::ExistingFile);
  nll_cmd->add_flag("--drop-nonfinite", drop_nonfinite,
                    "skip --data rows holding nan or inf (and count them) instead of refusing");
  nll_cmd->add_option("-n,--count", n, "fresh points when --data is not given")
      ->capture_default_str()
      ->check(whole_number(1, std::uint64_t{1} << 26));
  nll_cmd->add_option("--seed", sample_seed, "seed of the fresh points")
      ->capture_default_str()
      ->check(whole_number(0));
  nll_cmd
      ->add_option("--class", condition_class,
                   "conditional models: the class every point is scored under (default: no "
                   "condition)")
      ->check(whole_number(0, 1u << 30));
  nll_cmd->add_option("--context", condition_context,
                      "conditional models: the context vector, \"a,b,...\"");
  nll_cmd
      ->add_option("--label-column", nll_label_column,
                   "conditional models: the --data column (from 0) of each point's class")
      ->check(whole_number(0, 1u << 16));
  nb.option("--rtol", &train::TrainSpec::rtol, "relative tolerance")->check(finite_positive());
  nb.option("--atol", &train::TrainSpec::atol, "absolute tolerance")->check(finite_positive());
  nb.option("--device", &train::TrainSpec::device,
            "where to integrate: cpu or cuda (default: the run's)");

  eval_cmd = app.add_subcommand("eval", "samples, metrics and plots of a trained model");
  eb.app = eval_cmd;
  eval_cmd->add_option("--model", model, "checkpoint written by train")
      ->required()
      ->check(CLI::ExistingFile);
  eval_cmd->add_option("--out", eval_out, "folder for the outputs")->capture_default_str();
  eval_cmd->add_flag("--overwrite", overwrite,
                     "replace the samples, metrics and plots already in --out");
  add_sampling_options(eb);
}

}  // namespace flowtape::app
