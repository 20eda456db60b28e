// VelocityMLP: the default velocity field v(x, t) of the flows. t is embedded (raw, sinusoidal
// or random Fourier), concatenated to x, and an MLP maps [x, emb(t)] to a velocity of x's shape:
//   plain:    MLP(dim + tdim -> hidden x depth -> dim), activation between layers;
//   residual: Linear(dim + tdim -> hidden), depth pre-norm ResidualBlocks, act, Linear(-> dim).
// It is copyable with shared weights (see Module), so it converts to the flows' and solvers'
// std::function<Tensor(const Tensor&, const Tensor&)> and that function follows training.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "nn/mlp.hpp"
#include "nn/time_embedding.hpp"

namespace flowtape::nn {

enum class TimeEmbeddingKind { raw, sinusoidal, fourier };

struct VelocityMLPOptions {
  Activation activation = Activation::silu;
  TimeEmbeddingKind time_embedding = TimeEmbeddingKind::sinusoidal;
  std::int64_t time_dim = 32;  // embedding size (1 for raw)
  double fourier_sigma = 4.0;  // std of the random Fourier frequencies
  bool residual = false;
  DType dtype = DType::f32;
};

class VelocityMLP : public Module {
 public:
  // depth = number of hidden layers (plain) or residual blocks (residual), at least 1.
  VelocityMLP(std::int64_t dim, std::int64_t hidden, int depth, Generator& gen,
              const VelocityMLPOptions& options = {});

  // x [B, dim]; t [B], [B, 1] or one element (broadcast over the batch) -> [B, dim].
  Tensor operator()(const Tensor& x, const Tensor& t) const;

  std::function<Tensor(const Tensor&, const Tensor&)> as_function() const { return *this; }
  std::int64_t dim() const { return dim_; }

 private:
  Tensor embed(const Tensor& t, std::int64_t batch) const;

  std::int64_t dim_;
  VelocityMLPOptions options_;
  std::shared_ptr<SinusoidalEmbedding> sinusoidal_;
  std::shared_ptr<FourierEmbedding> fourier_;
  std::shared_ptr<MLP> net_;          // plain
  std::shared_ptr<Linear> in_, out_;  // residual
  std::vector<std::shared_ptr<ResidualBlock>> blocks_;
};

}  // namespace flowtape::nn
