// SPDX-License-Identifier: MIT
// VelocityMLP: the default velocity field v(x, t) of the flows. t is embedded (raw, sinusoidal
// or random Fourier), concatenated to x, and an MLP maps [x, emb(t)] to a velocity of x's shape:
//   plain:    MLP(dim + tdim -> hidden x depth -> dim), activation between layers;
//   residual: Linear(dim + tdim -> hidden), depth pre-norm ResidualBlocks, act, Linear(-> dim).
// It is copyable with shared weights (see Module), so it converts to the flows' and solvers'
// std::function<Tensor(const Tensor&, const Tensor&)> and that function follows training.
//
// Conditional (options.classes or options.context_dim set), with a condition code e(c):
//   classes:  e(c) is row c of a learned table of classes + 1 rows (condition_embedding); label
//             -1, "no condition", takes the extra row, learned by condition dropout;
//   context:  e(c) = [c, 1], and [0, 0] for a row of NaN ("no condition").
// and one of two ways in (docs/conditioning.md compares them):
//   concat    v(x, t, c) = MLP([x, emb(t), e(c)]): e(c) enters the first layer as t does;
//   film      each hidden layer's output h becomes h (1 + gamma_l) + beta_l, with
//             [gamma, beta] = film(e(c)) a Linear that starts at zero (plain MLP only).
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "flowtape/nn/mlp.hpp"
#include "flowtape/nn/time_embedding.hpp"

namespace flowtape::nn {

enum class TimeEmbeddingKind { raw, sinusoidal, fourier };
// "raw", "sinusoidal", "fourier"; the error for another name lists these.
TimeEmbeddingKind time_embedding_from_name(std::string_view name);
const char* time_embedding_name(TimeEmbeddingKind kind);

struct VelocityMLPOptions {
  Activation activation = Activation::silu;
  // Raw t by default, the choice of torchcfm's and Meta's 2-D examples, and ours by
  // measurement (bench/time_embedding.sh; docs/architecture.md): on moons, checkerboard and 8
  // Gaussians, sinusoidal features at DDPM's scale made the learned field oscillate in t, so
  // dopri5 took 11-14x more evaluations to sample it, with a worse held-out NLL in every run
  // and an MMD within the seeds' spread. The `flowtape` command takes this default too.
  TimeEmbeddingKind time_embedding = TimeEmbeddingKind::raw;
  std::int64_t time_dim = 32;  // embedding size of sinusoidal and fourier (raw t is one column)
  double fourier_sigma = 4.0;  // std of the random Fourier frequencies
  bool residual = false;
  DType dtype = DType::f32;
  std::int64_t classes = 0;         // > 0: conditioned on class labels 0 .. classes - 1
  std::int64_t context_dim = 0;     // > 0: conditioned on context vectors of this length
  std::int64_t condition_dim = 32;  // classes: the label embedding's width
  bool film = false;                // FiLM instead of concatenation (see above)
};

class VelocityMLP : public Module {
 public:
  // depth = number of hidden layers (plain) or residual blocks (residual), at least 1.
  VelocityMLP(std::int64_t dim, std::int64_t hidden, int depth, Generator& gen,
              const VelocityMLPOptions& options = {});

  // x [B, dim]; t [B], [B, 1] or one element (broadcast over the batch) -> [B, dim].
  // A conditional model refuses this form (it needs c).
  Tensor operator()(const Tensor& x, const Tensor& t) const;
  // Conditional models: c is i64 labels [B] (-1: none) or context [B, context_dim] (a NaN row:
  // none).
  Tensor operator()(const Tensor& x, const Tensor& t, const Tensor& c) const;
  bool conditional() const { return options_.classes > 0 || options_.context_dim > 0; }

  std::function<Tensor(const Tensor&, const Tensor&)> as_function() const { return *this; }
  std::int64_t dim() const { return dim_; }

 private:
  Tensor embed(const Tensor& t, std::int64_t batch) const;
  Tensor encode_condition(const Tensor& c, std::int64_t batch, Device device) const;
  Tensor forward(const Tensor& h, const Tensor& code = Tensor()) const;

  std::int64_t dim_;
  VelocityMLPOptions options_;
  std::shared_ptr<SinusoidalEmbedding> sinusoidal_;
  std::shared_ptr<FourierEmbedding> fourier_;
  std::shared_ptr<MLP> net_;          // plain
  std::shared_ptr<Linear> in_, out_;  // residual
  std::vector<std::shared_ptr<ResidualBlock>> blocks_;
  Tensor condition_table_;  // classes: [classes + 1, condition_dim]
  std::shared_ptr<Linear> film_;  // film: the condition code -> [gamma, beta] of every layer
  std::int64_t hidden_ = 0;
};

}  // namespace flowtape::nn
