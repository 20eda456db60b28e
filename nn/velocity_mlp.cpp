// SPDX-License-Identifier: MIT
// VelocityMLP.
#include "flowtape/nn/velocity_mlp.hpp"

#include <stdexcept>
#include <string>

#include "flowtape/autodiff/ops.hpp"

namespace flowtape::nn {

TimeEmbeddingKind time_embedding_from_name(std::string_view name) {
  if (name == "raw") return TimeEmbeddingKind::raw;
  if (name == "sinusoidal") return TimeEmbeddingKind::sinusoidal;
  if (name == "fourier") return TimeEmbeddingKind::fourier;
  throw std::invalid_argument("unknown time embedding '" + std::string(name.substr(0, 64)) +
                              "' (raw, sinusoidal, fourier)");
}

const char* time_embedding_name(TimeEmbeddingKind kind) {
  switch (kind) {
    case TimeEmbeddingKind::raw:
      return "raw";
    case TimeEmbeddingKind::sinusoidal:
      return "sinusoidal";
    case TimeEmbeddingKind::fourier:
      return "fourier";
  }
  return "raw";
}

VelocityMLP::VelocityMLP(std::int64_t dim, std::int64_t hidden, int depth, Generator& gen,
                         const VelocityMLPOptions& options)
    : dim_(dim), options_(options) {
  if (dim <= 0 || hidden <= 0 || depth < 1)
    throw std::invalid_argument(
        "VelocityMLP: need dim > 0, hidden > 0 and depth >= 1, got dim=" + std::to_string(dim) +
        ", hidden=" + std::to_string(hidden) + ", depth=" + std::to_string(depth));
  std::int64_t tdim = 1;
  switch (options.time_embedding) {
    case TimeEmbeddingKind::raw:
      break;
    case TimeEmbeddingKind::sinusoidal:
      tdim = options.time_dim;
      sinusoidal_ = register_module("time_embedding", std::make_shared<SinusoidalEmbedding>(
                                                          tdim, 10000.0, 1000.0, options.dtype));
      break;
    case TimeEmbeddingKind::fourier:
      tdim = options.time_dim;
      fourier_ = register_module(
          "time_embedding",
          std::make_shared<FourierEmbedding>(tdim, gen, options.fourier_sigma, options.dtype));
      break;
  }
  const Activation act = options.activation;
  if (!options.residual) {
    std::vector<std::int64_t> widths{dim + tdim};
    for (int i = 0; i < depth; ++i) widths.push_back(hidden);
    widths.push_back(dim);
    net_ = register_module("net", std::make_shared<MLP>(widths, gen, act, false, options.dtype));
    return;
  }
  in_ = register_module("input",
                        std::make_shared<Linear>(dim + tdim, hidden, gen, true, options.dtype));
  for (int i = 0; i < depth; ++i)
    blocks_.push_back(
        register_module("blocks." + std::to_string(i),
                        std::make_shared<ResidualBlock>(hidden, gen, act, true, options.dtype)));
  out_ = register_module("output", std::make_shared<Linear>(hidden, dim, gen, true, options.dtype));
}

Tensor VelocityMLP::embed(const Tensor& t, std::int64_t batch) const {
  if (sinusoidal_) return (*sinusoidal_)(t, batch);
  if (fourier_) return (*fourier_)(t, batch);
  return time_column(t, batch, options_.dtype);
}

Tensor VelocityMLP::operator()(const Tensor& x, const Tensor& t) const {
  if (x.rank() != 2 || x.size(1) != dim_)
    throw std::invalid_argument("VelocityMLP: x has shape " + x.shape().str() + "; expected [B, " +
                                std::to_string(dim_) + "]");
  const Tensor h = concat({x, embed(t, x.size(0))}, 1);
  if (net_) return (*net_)(h);
  Tensor z = (*in_)(h);
  for (const auto& block : blocks_) z = (*block)(z);
  return (*out_)(activate(options_.activation, z));
}

}  // namespace flowtape::nn
