// SPDX-License-Identifier: MIT
// digits: class-conditional flow matching on real data none of us drew - the 8x8 handwritten
// digits (1,797 images, 10 classes) that ship with Debian's python3-sklearn.
//
// A conditional velocity MLP v(x, t, class) is trained with minibatch OT within classes and
// condition dropout; digits of every class are then drawn with classifier-free guidance off
// (w = 0, the conditional field) and on (w = --guidance), and judged by
//   accuracy     a classifier trained by flowtape on the real training digits, applied to the
//                generated digits of each class (does class k look like a k?);
//   copying      the mean distance from each generated digit to its nearest training digit,
//                against the same for held-out real digits (a ratio well below 1 would mean
//                the flow reproduces training images);
//   diversity    the mean pairwise distance between generated digits of a class, against the
//                same for the real held-out digits of that class.
// Writes <out>/grid.png (10 generated digits per class, both guidance settings, labelled),
// <out>/results.md and <out>/results.json; prints the table.
//   digits [--steps N] [--guidance W] [--out DIR] [--data PATH/digits.csv.gz]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/evaluate.hpp"
#include "app/figure.hpp"
#include "app/progress.hpp"
#include "examples/digits/classifier.hpp"
#include "examples/digits/digit_data.hpp"
#include "flowtape/flows/flows.hpp"
#include "flowtape/train/train.hpp"

using namespace flowtape;

namespace {

// Mean over rows of a of the distance to the nearest row of b (a's own row excluded when
// a and b are the same tensor and `same` is set).
double mean_nearest(const Tensor& a, const Tensor& b) {
  const std::vector<double> av = a.to_vector(), bv = b.to_vector();
  const std::size_t d = static_cast<std::size_t>(a.shape()[1]);
  if (av.empty() || bv.empty()) return 0.0;
  double total = 0;
  for (std::size_t i = 0; i < av.size() / d; ++i) {
    double best = 1e300;
    for (std::size_t j = 0; j < bv.size() / d; ++j) {
      double s = 0;
      for (std::size_t k = 0; k < d && s < best; ++k) {
        const double diff = av[i * d + k] - bv[j * d + k];
        s += diff * diff;
      }
      best = std::min(best, s);
    }
    total += std::sqrt(best);
  }
  return total / static_cast<double>(av.size() / d);
}

// Mean distance between distinct rows.
double mean_pairwise(const Tensor& a) {
  const std::vector<double> v = a.to_vector();
  const std::size_t d = static_cast<std::size_t>(a.shape()[1]), n = v.size() / d;
  double total = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      double s = 0;
      for (std::size_t k = 0; k < d; ++k)
        s += (v[i * d + k] - v[j * d + k]) * (v[i * d + k] - v[j * d + k]);
      total += std::sqrt(s);
    }
  return n > 1 ? total / (static_cast<double>(n) * static_cast<double>(n - 1) / 2) : 0.0;
}

// The rows of x whose label is k.
Tensor rows_of_class(const Tensor& x, const Tensor& y, int k) {
  std::vector<std::int64_t> rows;
  const std::vector<double> labels = y.to_vector();
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == k) rows.push_back(static_cast<std::int64_t>(i));
  return flows::take_rows(x, rows);
}

// One panel of the grid: row k holds the first `columns` digits of class k.
void draw_panel(app::Image& img, int left, int top, const std::vector<Tensor>& per_class,
                int columns, const std::string& title) {
  constexpr int kScale = 4, kCell = 8 * kScale + 3;
  img.text(left + 22, top - 14, title, {0, 0, 0});
  for (int k = 0; k < 10; ++k) {
    img.text(left, top + k * kCell + 12, std::to_string(k), {0, 0, 0}, 2);
    const std::vector<double> px =
        examples::to_pixels(per_class[static_cast<std::size_t>(k)]).to_vector();
    for (int c = 0; c < columns && static_cast<std::size_t>(c * 64) < px.size(); ++c)
      for (int r = 0; r < 8; ++r)
        for (int q = 0; q < 8; ++q) {
          const double p = std::clamp(px[static_cast<std::size_t>(c * 64 + r * 8 + q)], 0.0, 16.0);
          const auto ink = static_cast<std::uint8_t>(std::lround(255.0 - p * 255.0 / 16.0));
          const int x0 = left + 22 + c * kCell + q * kScale, y0 = top + k * kCell + r * kScale;
          img.rect(x0, y0, x0 + kScale - 1, y0 + kScale - 1, {ink, ink, ink});
        }
  }
}

}  // namespace

static int run(int argc, char** argv) {
  std::string data = examples::kDigitsPath, out = "runs/digits";
  std::int64_t steps = 6000, batch = 256;
  int hidden = 256, depth = 3, per_class = 100, classifier_steps = 1500;
  double guidance = 2.0, lr = 2e-3, cond_drop = 0.1, test_fraction = 0.2;
  std::uint64_t seed = 0;
  train::Conditioning conditioning = train::Conditioning::concat;
  CLI::App cli{"digits: class-conditional flow matching on the 8x8 handwritten digits"};
  cli.add_option("--data", data, "digits.csv.gz (Debian package python3-sklearn)")
      ->capture_default_str();
  cli.add_option("--out", out, "output folder")->capture_default_str();
  cli.add_option("--steps", steps, "training steps")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  cli.add_option("--batch", batch, "batch size")
      ->capture_default_str()
      ->check(CLI::Range(10, 65536));
  cli.add_option("--hidden", hidden, "hidden width")
      ->capture_default_str()
      ->check(CLI::Range(8, 8192));
  cli.add_option("--depth", depth, "hidden layers")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  cli.add_option("--lr", lr, "peak learning rate")
      ->capture_default_str()
      ->check(app::finite_at_least(1e-9));
  cli.add_option("--guidance", guidance, "guidance scale w of the guided samples")
      ->capture_default_str()
      ->check(app::finite_at_least(0));
  cli.add_option("--cond-drop", cond_drop,
                 "fraction of rows trained with no class (guidance needs it above 0)")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 0.9));
  cli.add_option("--per-class", per_class, "generated digits per class and setting")
      ->capture_default_str()
      ->check(CLI::Range(10, 10000));
  cli.add_option("--classifier-steps", classifier_steps, "training steps of the judge")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cli.add_option("--seed", seed, "seed")->capture_default_str();
  cli.add_option("--conditioning", conditioning, "how the class enters the network")
      ->transform(app::choice<train::Conditioning>())
      ->type_name(app::choice_names<train::Conditioning>())
      ->default_str("concat");
  if (const auto code = app::parse_command_line(cli, argc, argv)) return *code;

  if (!std::filesystem::exists(data)) {
    std::fprintf(stderr,
                 "digits: %s is not there. The digits ship with Debian's scikit-learn: "
                 "sudo apt-get install python3-sklearn (or give --data PATH/digits.csv.gz)\n",
                 data.c_str());
    return 1;
  }
  // The output folder first: an --out that cannot be a folder is refused before any training.
  std::filesystem::create_directories(out);
  try {
    const auto start = std::chrono::steady_clock::now();
    const examples::DigitSplit split = examples::read_digits(data, test_fraction, seed);
    std::printf("digits: %lld training and %lld held-out digits of 64 pixels, 10 classes\n",
                static_cast<long long>(split.train_x.shape()[0]),
                static_cast<long long>(split.test_x.shape()[0]));

    Generator judge_init(seed, 20), judge_gen(seed, 21);
    examples::DigitClassifier judge(judge_init);
    judge.fit(split.train_x, split.train_y, classifier_steps, judge_gen);
    const double judge_accuracy = judge.accuracy(split.test_x, split.test_y);
    std::printf("judge: a %s classifier, %.1f%% right on the held-out real digits\n",
                "64-128-10 MLP", 100 * judge_accuracy);

    train::TrainSpec spec;
    spec.conditional = true;
    spec.cond_drop = cond_drop;
    spec.coupling = train::Coupling::ot;  // within classes
    spec.hidden = hidden;
    spec.depth = depth;
    spec.steps = steps;
    spec.batch = batch;
    spec.lr = lr;
    spec.seed = seed;
    spec.conditioning = conditioning;
    auto dataset =
        std::make_shared<flows::TensorDataset>(split.train_x, split.train_y, "digits", 10);
    train::Trainer trainer(spec, dataset, {});
    app::Progress progress("train", steps);
    double last_loss = 0;
    trainer.train({.on_step = [&](const train::StepReport& r) {
      last_loss = r.loss;
      char buf[48];
      std::snprintf(buf, sizeof buf, "loss %.4f", r.loss);
      progress.update(r.step, buf);
    }});
    char final_fields[48];
    std::snprintf(final_fields, sizeof final_fields, "loss %.4f", last_loss);
    progress.finish(final_fields);

    // Generate: per class, guidance off and on, from the same noise.
    const std::vector<double> settings = {0.0, guidance};
    std::vector<std::vector<Tensor>> generated(settings.size());
    Generator noise_gen(seed, 30);
    std::vector<Tensor> noise;
    for (int k = 0; k < 10; ++k) noise.push_back(randn({per_class, 64}, noise_gen));
    NoGrad no_grad;
    for (std::size_t s = 0; s < settings.size(); ++s)
      for (int k = 0; k < 10; ++k) {
        const Tensor labels = full(Shape{per_class}, static_cast<double>(k), DType::i64);
        const flows::VelocityField v =
            flows::guided(trainer.conditional_field(), labels, trainer.condition(), settings[s]);
        generated[s].push_back(flows::sample(v, noise[static_cast<std::size_t>(k)]).x);
      }

    // The table.
    nlohmann::ordered_json results;
    results["judge_accuracy_on_real"] = judge_accuracy;
    results["final_loss"] = last_loss;
    results["guidance"] = guidance;
    std::string md = "| class | accuracy, w = 0 | accuracy, w = " + app::tick_label(guidance) +
                     " | nearest-train distance, generated (w = 0) | nearest-train distance, "
                     "held-out real | diversity, generated (w = 0) | diversity, real |\n"
                     "| --- | --- | --- | --- | --- | --- | --- |\n";
    double acc_sum[2] = {0, 0}, near_gen = 0, near_real = 0, div_gen = 0, div_real = 0;
    for (int k = 0; k < 10; ++k) {
      const Tensor want = full(Shape{per_class}, static_cast<double>(k), DType::i64);
      const double a0 = judge.accuracy(generated[0][k], want),
                   a1 = judge.accuracy(generated[1][k], want);
      const Tensor real_k = rows_of_class(split.test_x, split.test_y, k);
      const double ng = mean_nearest(generated[0][k], split.train_x);
      const double nr = mean_nearest(real_k, split.train_x);
      const double dg = mean_pairwise(generated[0][k]), dr = mean_pairwise(real_k);
      acc_sum[0] += a0;
      acc_sum[1] += a1;
      near_gen += ng / 10;
      near_real += nr / 10;
      div_gen += dg / 10;
      div_real += dr / 10;
      char row[200];
      std::snprintf(row, sizeof row, "| %d | %.1f%% | %.1f%% | %.3f | %.3f | %.3f | %.3f |\n", k,
                    100 * a0, 100 * a1, ng, nr, dg, dr);
      md += row;
      results["classes"].push_back({{"class", k},
                                    {"accuracy_unguided", a0},
                                    {"accuracy_guided", a1},
                                    {"nearest_train_generated", ng},
                                    {"nearest_train_heldout", nr},
                                    {"diversity_generated", dg},
                                    {"diversity_real", dr}});
    }
    char row[200];
    std::snprintf(row, sizeof row, "| all | %.1f%% | %.1f%% | %.3f | %.3f | %.3f | %.3f |\n",
                  10 * acc_sum[0], 10 * acc_sum[1], near_gen, near_real, div_gen, div_real);
    md += row;
    results["accuracy_unguided"] = acc_sum[0] / 10;
    results["accuracy_guided"] = acc_sum[1] / 10;
    results["nearest_train_generated"] = near_gen;
    results["nearest_train_heldout"] = near_real;
    results["diversity_generated"] = div_gen;
    results["diversity_real"] = div_real;
    results["seconds"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "\n%s\n(distances are Euclidean on pixels scaled to [-1, 1]; %d digits per class "
        "and setting)\n",
        md.c_str(), per_class);

    std::filesystem::create_directories(out);
    constexpr int kColumns = 10, kPanel = 22 + kColumns * 35 + 20;
    app::Image grid(2 * kPanel + 10, 46 + 10 * 35 + 8);
    draw_panel(grid, 10, 46, generated[0], kColumns, "no guidance, w = 0");
    draw_panel(grid, 10 + kPanel, 46, generated[1], kColumns,
               "classifier-free guidance, w = " + app::tick_label(guidance));
    grid.text(10, 6, "flowtape: generated 8x8 digits, one class per row", {0, 0, 0}, 2);
    grid.save_png(out + "/grid.png");
    app::write_text_file(out + "/results.md", md);
    app::write_text_file(out + "/results.json", results.dump(2) + "\n");
    std::printf("wrote %s/grid.png, results.md, results.json (%.0f s)\n", out.c_str(),
                results["seconds"].get<double>());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "digits: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

// Whatever escapes run() (a file that cannot be written, an --out that is a file) exits 1
// with its message, as the README documents.
int main(int argc, char** argv) {
  return flowtape::app::run_reporting_errors([&] { return run(argc, argv); });
}
