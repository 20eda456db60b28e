// SPDX-License-Identifier: MIT
// torch_reference OUT_DIR: trains small models, one per time embedding (with different
// activations), and writes each checkpoint (NAME.safetensors) beside a CSV of points, times and
// the velocity the model gives there (NAME.csv: x0.., t, v0..). torch_loader_test.sh loads the
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
  };
  for (const Case& c :
       {Case{"raw_silu", nn::TimeEmbeddingKind::raw, nn::Activation::silu},
        Case{"sinusoidal_gelu", nn::TimeEmbeddingKind::sinusoidal, nn::Activation::gelu},
        Case{"fourier_tanh", nn::TimeEmbeddingKind::fourier, nn::Activation::tanh}}) {
    train::TrainSpec spec;
    spec.dataset = "moons";
    spec.hidden = 24;
    spec.depth = 2;
    spec.batch = 64;
    spec.steps = 20;  // trained weights, not the initial ones
    spec.time_embedding = c.embedding;
    spec.activation = c.activation;
    train::Trainer trainer(spec);
    trainer.train();
    trainer.save(out + "/" + c.name + ".safetensors");

    Generator gen(7);
    const Tensor x = randn({200, 2}, gen), t = rand({200, 1}, gen);
    const std::vector<double> xs = x.to_vector(), ts = t.to_vector(),
                              vs = trainer.field()(x, t).to_vector();
    const std::string csv = out + "/" + c.name + ".csv";
    std::FILE* f = std::fopen(csv.c_str(), "w");
    if (!f) {
      std::perror(csv.c_str());
      return 1;
    }
    std::fprintf(f, "x0,x1,t,v0,v1\n");
    for (std::size_t i = 0; i < ts.size(); ++i)
      std::fprintf(f, "%.9g,%.9g,%.9g,%.9g,%.9g\n", xs[2 * i], xs[2 * i + 1], ts[i], vs[2 * i],
                   vs[2 * i + 1]);
    if (std::fclose(f) != 0) {
      std::perror(csv.c_str());
      return 1;
    }
  }
  return 0;
}
