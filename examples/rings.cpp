// SPDX-License-Identifier: MIT
// rings: rectified flow matching against risk-entropic flow matching on the ring data with
// lobes and angular gaps (Ramezani & Englard, arXiv 2512.03078; docs/objectives.md). The flagship
// example and the README's main job.
//
// For each seed it trains the rectified-FM baseline and, for each tilt variant and each
// lambda_max, the entropic loss with a linear lambda ramp (0 -> lambda_max over the first half
// of training). The variants (flows/losses.hpp): the paper's tilt over the whole batch, the
// tilt within time bins, the tilt of late times only, and the exact per-point tilt over a
// reference set (the batch's targets and 256 more points); lambda may be negative. Every model
// is sampled with dopri5 and judged by the paper's ring metrics (angular spread error, gap
// violation rate, mode concentration, variance error), MMD, and signed measures (spread
// ratio, minority-lobe share, radius bias), as mean +- std over seeds, and as differences
// paired by seed against each variant's lambda = 0 control: the rectified run for the batch,
// time-bin and late tilts (at lambda = 0 each is the plain mean), and for the per-point tilt
// its own lambda = 0 run (the posterior-weighted mean over the reference set, whose gradient
// is the empirical FM target's). The paper's data, network and step counts
// were not published; ours are in the README ("rings"), so compare trends, not digits.
//
//   rings [--steps 8000] [--seeds 3] [--variants batch,time_bins,late] (or point)
//         [--lambdas -0.1,0.1,0.3] [--minority-weight 0.3] [--alpha 0.6] [--radial-std 0.04]
//         [--out runs/rings] [--jobs N]
//
// Writes <out>/results.md, <out>/results.json and, for seed 0, each method's samples.png,
// density.png and trajectories.png under <out>/<method>/.
//
// The defaults take ~2 min on 2 cores (AMD EPYC, AVX2); the table it prints is in README.md.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "app/cli.hpp"
#include "app/evaluate.hpp"
#include "app/parallel_runs.hpp"
#include "app/plot.hpp"
#include "app/seed_stats.hpp"
#include "flowtape/train/trainer.hpp"

using namespace flowtape;
using namespace flowtape::app;
using flowtape::train::Trainer;

namespace {

struct Job {
  std::string method;  // "rectified" or "<variant> <lambda>" (the point control: "point +0.00")
  train::EntropicTilt tilt;
  double lambda_max;  // 0 for the baseline
  std::uint64_t seed;
  nlohmann::json metrics;
  double seconds = 0;
};

// The columns: the paper's metrics, MMD, then the signed measures.
struct Column {
  const char* key;
  const char* title;
  const char* format;
};
const Column kColumns[] = {
    {"angular_spread_error", "angular spread error", "%.4f"},
    {"gap_violation_rate", "gap violation rate", "%.4f"},
    {"mode_concentration", "mode concentration (TV)", "%.4f"},
    {"variance_error", "variance error", "%.4f"},
    {"mmd_rbf", "MMD", "%.5f"},
    {"spread_ratio", "spread ratio", "%.3f"},
    {"minority_share", "minority share", "%.3f"},
    {"radius_bias", "radius bias", "%+.4f"},
};

std::string method_name(train::EntropicTilt tilt, double lambda) {
  if (lambda == 0 && tilt != train::EntropicTilt::point) return "rectified";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %+.2f", train::name_of(tilt), lambda);
  return buf;
}

// The lambda = 0 run a method is paired with.
std::string control_of(const std::string& method) {
  return method.starts_with("point ") ? method_name(train::EntropicTilt::point, 0) : "rectified";
}

// "batch +0.30" -> "batch_0.30", "late -0.10" -> "late_-0.10".
std::string folder_of(const std::string& method) {
  std::string f;
  for (char ch : method)
    if (ch != '+') f += ch == ' ' ? '_' : ch;
  return f;
}

}  // namespace

static int run(int argc, char** argv) {
  CLI::App app{"rings: rectified FM vs risk-entropic FM on ring data with gaps"};
  std::int64_t steps = 8000, batch = 256, samples = 4000;
  int seeds = 3, hidden = 128, depth = 3;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  std::vector<double> lambdas = {-0.1, 0.1, 0.3};
  // The per-point tilt is not among the defaults: it costs ~3x a step (README: its own run).
  std::vector<std::string> variants = {"batch", "time_bins", "late"};
  double minority_weight = 0.3;
  flows::RingsConfig ring;
  std::string out = "runs/rings";
  app.add_option("--steps", steps, "training steps per model")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "batch size")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seeds", seeds, "seeds per method")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--variants", variants, "entropic tilts: batch, time_bins, late, point")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::IsMember({"batch", "time_bins", "late", "point"}));
  app.add_option("--lambdas", lambdas, "lambda_max values of the entropic runs (non-zero)")
      ->delimiter(',')
      ->capture_default_str()
      ->check(finite_at_least(-10.0) & CLI::Range(-10.0, 10.0) &
              CLI::Validator(
                  [](const std::string& v) {
                    return std::strtod(v.c_str(), nullptr) == 0
                               ? std::string("lambda = 0 is the rectified run, always included")
                               : std::string();
                  },
                  "NONZERO"));
  app.add_option("--minority-weight", minority_weight,
                 "the minority lobe's weight (the others weigh 1)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1.0));
  app.add_option("--alpha", ring.alpha, "the fraction of each lobe's sector its arc covers")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 0.95));
  app.add_option("--radial-std", ring.radial_std, "the radial noise of the ring")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 0.5));
  app.add_option("--hidden", hidden, "hidden width")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--depth", depth, "hidden layers")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--samples", samples, "samples per evaluation")
      ->capture_default_str()
      ->check(CLI::Range(100, 1000000));
  app.add_option("--out", out, "output folder")->capture_default_str();
  app.add_option("--jobs", jobs, "runs in parallel")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  if (const auto code = parse_command_line(app, argc, argv)) return *code;

  ring.weights = {1, 1, 1, 1, 1, minority_weight};
  const auto data = std::make_shared<flows::Rings>(ring);
  std::vector<std::string> methods = {"rectified"};
  std::vector<Job> todo;
  for (int s = 0; s < seeds; ++s) {
    const auto seed = static_cast<std::uint64_t>(s);
    todo.push_back({"rectified", train::EntropicTilt::batch, 0.0, seed, {}, 0});
    for (const std::string& v : variants)
      for (double l : lambdas) {
        const auto tilt = train::choice_from_name<train::EntropicTilt>(v, "variant");
        if (tilt == train::EntropicTilt::point && l == lambdas.front()) {
          todo.push_back({method_name(tilt, 0), tilt, 0.0, seed, {}, 0});  // its control
          if (s == 0) methods.push_back(todo.back().method);
        }
        todo.push_back({method_name(tilt, l), tilt, l, seed, {}, 0});
        if (s == 0) methods.push_back(todo.back().method);
      }
  }
  for (std::size_t i = 1; i < methods.size(); ++i)
    if (std::count(methods.begin(), methods.end(), methods[i]) > 1) {
      std::fprintf(stderr,
                   "error: the runs '%s' are asked for twice (--variants or --lambdas "
                   "repeat a value, to two decimals)\n",
                   methods[i].c_str());
      return 2;
    }
  std::filesystem::create_directories(out);
  std::printf("rings: %zu runs (%d seeds x %zu methods), %lld steps each, %u in parallel\n",
              todo.size(), seeds, methods.size(), static_cast<long long>(steps), jobs);

  std::atomic<std::size_t> finished{0};
  try {
    run_parallel(todo.size(), jobs, [&](std::size_t i) {
      Job& job = todo[i];
      train::TrainSpec c;
      c.loss = job.method == "rectified" ? train::Loss::cfm : train::Loss::entropic;
      c.tilt = job.tilt;
      c.lambda_max = job.lambda_max;
      c.ramp_start = 0.0;
      c.ramp_end = 0.5;
      c.steps = steps;
      c.batch = batch;
      c.hidden = hidden;
      c.depth = depth;
      c.seed = job.seed;
      c.eval_samples = samples;
      const auto start = std::chrono::steady_clock::now();
      Trainer trainer(c, data, {});
      trainer.train();
      Generator gen(1000 + job.seed);
      const auto gen_samples =
          generate(trainer.field(), samples, 2, c, gen, job.seed == 0 ? 41 : 0);
      const Tensor reference = data->sample(samples, gen);
      job.metrics = sample_metrics(*data, gen_samples.x, reference, gen);
      job.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (job.seed == 0) {
        const std::string dir = out + "/" + folder_of(job.method);
        std::filesystem::create_directories(dir);
        const Frame f = frame_of(reference);
        const std::string what = "rings, " + job.method;
        scatter_plot(gen_samples.x, reference, f, what + ": samples over the data")
            .save_png(dir + "/samples.png");
        density_plot(gen_samples.x, f, what + ": sample density").save_png(dir + "/density.png");
        trajectory_plot(gen_samples.trajectory, f, 128, what + ": paths from noise")
            .save_png(dir + "/trajectories.png");
      }
      report([&] {
        std::printf(
            "[%2zu/%zu] %-16s seed %llu  angular spread err %.4f  spread ratio %.3f  "
            "minority share %.3f  (%.1fs)\n",
            ++finished, todo.size(), job.method.c_str(), static_cast<unsigned long long>(job.seed),
            job.metrics["angular_spread_error"].get<double>(),
            job.metrics["spread_ratio"].get<double>(), job.metrics["minority_share"].get<double>(),
            job.seconds);
      });
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }

  // Per method: mean +- std over seeds; and paired by seed, the difference from rectified.
  const auto values = [&](const std::string& method, const char* key) {
    std::vector<double> v;
    for (const Job& j : todo)
      if (j.method == method) v.push_back(j.metrics[key].get<double>());
    return v;
  };
  nlohmann::json results;
  std::string md = "| method |", rule = "| --- |";
  for (const Column& col : kColumns) {
    md += std::string(" ") + col.title + " |";
    rule += " ---: |";
  }
  md += "\n" + rule + "\n";
  std::string paired =
      "| method | angular spread error | spread ratio | minority share | "
      "radius bias | MMD |\n| --- | ---: | ---: | ---: | ---: | ---: |\n";
  const std::pair<const char*, const char*> kPaired[] = {{"angular_spread_error", "%+.4f"},
                                                         {"spread_ratio", "%+.4f"},
                                                         {"minority_share", "%+.4f"},
                                                         {"radius_bias", "%+.4f"},
                                                         {"mmd_rbf", "%+.5f"}};
  for (const std::string& method : methods) {
    md += "| " + method + " |";
    for (const Column& col : kColumns) {
      const MeanStd s = mean_std(values(method, col.key));
      md += " " + format_mean_std(col.format, s) + " |";
      results[method][col.key] = {{"mean", s.mean}, {"std", s.std}};
    }
    md += "\n";
    if (method == control_of(method)) continue;
    paired += "| " + method + " |";
    for (const auto& [key, format] : kPaired) {
      const MeanStd s = paired_difference(values(method, key), values(control_of(method), key));
      paired += " " + format_mean_std(format, s) + " |";
      results[method]["paired_difference"][key] = {{"mean", s.mean}, {"std", s.std}};
    }
    paired += "\n";
  }
  char header[400];
  std::snprintf(header, sizeof header,
                "rings: %d seeds, %lld steps, batch %lld, MLP %dx%d, minority weight %.2f, arc "
                "fraction %.2f, radial std %.3f, %lld dopri5 samples per model (mean +- std over "
                "seeds)\n\n",
                seeds, static_cast<long long>(steps), static_cast<long long>(batch), depth, hidden,
                minority_weight, ring.alpha, ring.radial_std, static_cast<long long>(samples));
  const std::string paired_header =
      "\nDifferences from the lambda = 0 control of the same seed (the rectified run; for the "
      "point tilt its own lambda = 0 run), mean +- std over seeds:\n\n";
  write_text_file(out + "/results.md", header + md + paired_header + paired);
  nlohmann::json all = {{"steps", steps},      {"batch", batch},
                        {"seeds", seeds},      {"minority_weight", minority_weight},
                        {"alpha", ring.alpha}, {"radial_std", ring.radial_std},
                        {"results", results}};
  for (const Job& j : todo)
    all["runs"].push_back(
        {{"method", j.method}, {"seed", j.seed}, {"metrics", j.metrics}, {"seconds", j.seconds}});
  write_text_file(out + "/results.json", all.dump(2) + "\n");
  std::printf("\n%s%s%s%s\nwrote %s/results.md, results.json and plots under %s/<method>/\n",
              header, md.c_str(), paired_header.c_str(), paired.c_str(), out.c_str(), out.c_str());
  return 0;
}

// Whatever escapes run() (a file that cannot be written, an --out that is a file) exits 1
// with its message, as the README documents.
int main(int argc, char** argv) {
  return flowtape::app::run_reporting_errors([&] { return run(argc, argv); });
}
