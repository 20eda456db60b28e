// SPDX-License-Identifier: MIT
// torch_reference OUT_DIR: trains small models, one per time embedding (with different
// activations) and per kind of condition (labels by concatenation and by FiLM, context), and
// writes each checkpoint (NAME.safetensors) beside a CSV of points, times, conditions and the
// velocity the model gives there (NAME.csv: x0.., t, [c], v0..). torch_loader_test.sh loads the
// checkpoints with scripts/flowtape_to_torch.py and compares PyTorch's velocities with these.
#include <cstdio>
#include <string>

#include "flowtape/train/trainer.hpp"

using namespace flowtape;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: torch_reference OUT_DIR\n");
    return 2;
  }
  const std::string out = argv[1];
  struct Case {
    const char* name;
    nn::TimeEmbeddingKind embedding;
    nn::Activation activation;
    flows::ConditionKind condition;
    train::Conditioning conditioning;
  };
  using flows::ConditionKind;
  using train::Conditioning;
  // Points at (3 c, 0) for a scalar context c: a dataset with context vectors.
  Generator context_gen(4);
  const Tensor context = rand({2000, 1}, context_gen) * 2.0 - 1.0;
  auto shifted = std::make_shared<flows::TensorDataset>(
      concat({context * 3.0, zeros({2000, 1})}, 1) + randn({2000, 2}, context_gen) * 0.3, context,
      "shifted");
  for (const Case& c : {Case{"raw_silu", nn::TimeEmbeddingKind::raw, nn::Activation::silu,
                             ConditionKind::none, Conditioning::concat},
                        Case{"sinusoidal_gelu", nn::TimeEmbeddingKind::sinusoidal,
                             nn::Activation::gelu, ConditionKind::none, Conditioning::concat},
                        Case{"fourier_tanh", nn::TimeEmbeddingKind::fourier, nn::Activation::tanh,
                             ConditionKind::none, Conditioning::concat},
                        Case{"labels_concat", nn::TimeEmbeddingKind::raw, nn::Activation::silu,
                             ConditionKind::labels, Conditioning::concat},
                        Case{"labels_film", nn::TimeEmbeddingKind::sinusoidal, nn::Activation::relu,
                             ConditionKind::labels, Conditioning::film},
                        Case{"context_concat", nn::TimeEmbeddingKind::raw, nn::Activation::softplus,
                             ConditionKind::context, Conditioning::concat}}) {
    train::TrainSpec spec;
    spec.dataset = c.condition == ConditionKind::labels ? "8gaussians" : "moons";
    spec.hidden = 24;
    spec.depth = 2;
    spec.batch = 64;
    spec.steps = 20;  // trained weights, not the initial ones
    spec.time_embedding = c.embedding;
    spec.activation = c.activation;
    spec.conditional = c.condition != ConditionKind::none;
    spec.conditioning = c.conditioning;
    train::Trainer trainer(spec, c.condition == ConditionKind::context ? shifted : nullptr, {});
    trainer.train();
    trainer.save(out + "/" + c.name + ".safetensors");

    Generator gen(7);
    const std::int64_t n = 200;
    const Tensor x = randn({n, 2}, gen), t = rand({n, 1}, gen);
    Tensor cond;
    std::int64_t width = 0;  // the condition's columns in the CSV
    if (c.condition == ConditionKind::labels) {
      std::vector<double> labels(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) labels[static_cast<std::size_t>(i)] = double(i % 9) - 1;
      cond = from_vector(labels, Shape{n}, DType::i64);  // -1: the null condition too
      width = 1;
    } else if (c.condition == ConditionKind::context) {
      cond = rand({n, 1}, gen) * 2.0 - 1.0;
      width = 1;
    }
    const Tensor v =
        cond.defined() ? trainer.conditional_field()(x, t, cond) : trainer.field()(x, t);
    const std::vector<double> xs = x.to_vector(), ts = t.to_vector(), vs = v.to_vector(),
                              cs = cond.defined() ? cond.to_vector() : std::vector<double>{};
    const std::string csv = out + "/" + c.name + ".csv";
    std::FILE* f = std::fopen(csv.c_str(), "w");
    if (!f) {
      std::perror(csv.c_str());
      return 1;
    }
    std::fprintf(f, width ? "x0,x1,t,c,v0,v1\n" : "x0,x1,t,v0,v1\n");
    for (std::size_t i = 0; i < ts.size(); ++i) {
      std::fprintf(f, "%.9g,%.9g,%.9g,", xs[2 * i], xs[2 * i + 1], ts[i]);
      if (width) std::fprintf(f, "%.9g,", cs[i]);
      std::fprintf(f, "%.9g,%.9g\n", vs[2 * i], vs[2 * i + 1]);
    }
    if (std::fclose(f) != 0) {
      std::perror(csv.c_str());
      return 1;
    }
  }
  // A --standardize run on a file of points far from the origin: the checkpoint records the
  // mean and scale, which the loader must hand back (standardized.txt: the mean, then the scale).
  const std::string points = out + "/points.csv";
  {
    Generator gen(9);
    const std::vector<double> p = (randn({500, 2}, gen, DType::f64) * 4.0 + 10.0).to_vector();
    std::FILE* f = std::fopen(points.c_str(), "w");
    if (!f) {
      std::perror(points.c_str());
      return 1;
    }
    for (std::size_t i = 0; i < p.size(); i += 2) std::fprintf(f, "%.17g,%.17g\n", p[i], p[i + 1]);
    if (std::fclose(f) != 0) {
      std::perror(points.c_str());
      return 1;
    }
  }
  train::TrainSpec spec;
  spec.data = points;
  spec.standardize = true;
  spec.hidden = 16;
  spec.depth = 2;
  spec.steps = 5;
  train::Trainer trainer(spec, nullptr, {});
  trainer.train();
  trainer.save(out + "/standardized.safetensors");
  std::FILE* f = std::fopen((out + "/standardized.txt").c_str(), "w");
  if (!f) return 1;
  const train::Standardization& st = trainer.standardization();
  std::fprintf(f, "%.17g %.17g %.17g %.17g\n", st.mean[0], st.mean[1], st.scale[0], st.scale[1]);
  return std::fclose(f) == 0 ? 0 : 1;
}
