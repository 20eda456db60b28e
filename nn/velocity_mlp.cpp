// SPDX-License-Identifier: MIT
// VelocityMLP.
#include "flowtape/nn/velocity_mlp.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"
#include "flowtape/runtime/backend.hpp"

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
    : dim_(dim), options_(options), hidden_(hidden) {
  if (dim <= 0 || hidden <= 0 || depth < 1)
    throw std::invalid_argument(
        "VelocityMLP: need dim > 0, hidden > 0 and depth >= 1, got dim=" + std::to_string(dim) +
        ", hidden=" + std::to_string(hidden) + ", depth=" + std::to_string(depth));
  if (options.classes < 0 || options.context_dim < 0 ||
      (options.classes > 0 && options.context_dim > 0) ||
      (options.classes > 0 && options.condition_dim < 1))
    throw std::invalid_argument(
        "VelocityMLP: condition on classes or on a context vector (not both), each >= 0, with "
        "condition_dim >= 1");
  if (options.film && (options.residual || (options.classes == 0 && options.context_dim == 0)))
    throw std::invalid_argument("VelocityMLP: film needs a condition and the plain MLP");
  // The condition code's width, and its columns in the first layer's input (none for FiLM).
  const std::int64_t code_dim = options.classes > 0       ? options.condition_dim
                                : options.context_dim > 0 ? options.context_dim + 1
                                                          : 0;
  const std::int64_t cdim = options.film ? 0 : code_dim;
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
    std::vector<std::int64_t> widths{dim + tdim + cdim};
    for (int i = 0; i < depth; ++i) widths.push_back(hidden);
    widths.push_back(dim);
    net_ = register_module("net", std::make_shared<MLP>(widths, gen, act, false, options.dtype));
  } else {
    in_ = register_module(
        "input", std::make_shared<Linear>(dim + tdim + cdim, hidden, gen, true, options.dtype));
    for (int i = 0; i < depth; ++i)
      blocks_.push_back(
          register_module("blocks." + std::to_string(i),
                          std::make_shared<ResidualBlock>(hidden, gen, act, true, options.dtype)));
    out_ =
        register_module("output", std::make_shared<Linear>(hidden, dim, gen, true, options.dtype));
  }
  // After the network, so an unconditional model draws exactly what it always did.
  if (options.classes > 0) {
    NoGrad no_grad;
    condition_table_ = register_parameter(
        "condition_embedding.weight",
        randn(Shape{options.classes + 1, options.condition_dim}, gen, options.dtype));
  }
  if (options.film) {
    film_ = register_module(
        "film", std::make_shared<Linear>(code_dim, 2 * hidden * depth, gen, true, options.dtype));
    // Zero modulation at the start: the network begins as the unconditioned one.
    NoGrad no_grad;
    for (Tensor p : film_->parameters()) backend_of(p).fill(p, 0.0);
  }
}

Tensor VelocityMLP::embed(const Tensor& t, std::int64_t batch) const {
  if (sinusoidal_) return (*sinusoidal_)(t, batch);
  if (fourier_) return (*fourier_)(t, batch);
  return time_column(t, batch, options_.dtype);
}

Tensor VelocityMLP::forward(const Tensor& h, const Tensor& code) const {
  if (film_) {
    const auto& layers = net_->layers();
    const Tensor modulation = (*film_)(code);  // [B, 2 hidden depth]
    Tensor z = h;
    for (std::size_t l = 0; l + 1 < layers.size(); ++l) {
      const auto at = static_cast<std::int64_t>(2 * l) * hidden_;
      z = activate(options_.activation, (*layers[l])(z));
      z = z * (1.0 + slice(modulation, 1, at, at + hidden_)) +
          slice(modulation, 1, at + hidden_, at + 2 * hidden_);
    }
    return (*layers.back())(z);
  }
  if (net_) return (*net_)(h);
  Tensor z = (*in_)(h);
  for (const auto& block : blocks_) z = (*block)(z);
  return (*out_)(activate(options_.activation, z));
}

Tensor VelocityMLP::operator()(const Tensor& x, const Tensor& t) const {
  if (conditional())
    throw std::invalid_argument(
        "VelocityMLP: this model is conditional; call it as v(x, t, c) (c may be the null "
        "condition: label -1, or a row of NaN)");
  if (x.rank() != 2 || x.size(1) != dim_)
    throw std::invalid_argument("VelocityMLP: x has shape " + x.shape().str() + "; expected [B, " +
                                std::to_string(dim_) + "]");
  return forward(concat({x, embed(t, x.size(0))}, 1));
}

Tensor VelocityMLP::operator()(const Tensor& x, const Tensor& t, const Tensor& c) const {
  if (!conditional()) {
    if (c.defined()) throw std::invalid_argument("VelocityMLP: this model takes no condition");
    return (*this)(x, t);
  }
  if (x.rank() != 2 || x.size(1) != dim_)
    throw std::invalid_argument("VelocityMLP: x has shape " + x.shape().str() + "; expected [B, " +
                                std::to_string(dim_) + "]");
  const Tensor code = encode_condition(c, x.size(0), x.device());
  if (film_) return forward(concat({x, embed(t, x.size(0))}, 1), code);
  return forward(concat({x, embed(t, x.size(0)), code}, 1));
}

Tensor VelocityMLP::encode_condition(const Tensor& c, std::int64_t batch, Device device) const {
  // The condition is data (no gradient reaches it), so its null rows are resolved on the host.
  const std::vector<double> v = c.defined() ? c.to_vector() : std::vector<double>{};
  if (options_.classes > 0) {
    if (!c.defined() || c.rank() != 1 || c.size(0) != batch)
      throw std::invalid_argument("VelocityMLP: expected labels [" + std::to_string(batch) +
                                  "], got " + (c.defined() ? c.str() : std::string("none")));
    std::vector<double> rows(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] < -1 || v[i] >= static_cast<double>(options_.classes) || v[i] != std::floor(v[i]))
        throw std::invalid_argument("VelocityMLP: label " + std::to_string(v[i]) +
                                    " is outside [0, " + std::to_string(options_.classes) +
                                    ") and not -1 (no condition)");
      rows[i] = v[i] < 0 ? static_cast<double>(options_.classes) : v[i];
    }
    const Tensor idx = from_vector(rows, Shape{batch}, DType::i64).to(condition_table_.device());
    return index_select(condition_table_, 0, idx);
  }
  const std::int64_t k = options_.context_dim;
  if (!c.defined() || c.rank() != 2 || c.size(0) != batch || c.size(1) != k)
    throw std::invalid_argument("VelocityMLP: expected context [" + std::to_string(batch) + ", " +
                                std::to_string(k) + "], got " +
                                (c.defined() ? c.str() : std::string("none")));
  std::vector<double> out(static_cast<std::size_t>(batch * (k + 1)));
  for (std::int64_t i = 0; i < batch; ++i) {
    // A row is "no condition" when all of it is NaN; anything else must be all finite.
    std::int64_t nans = 0, finite = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      const double x = v[static_cast<std::size_t>(i * k + j)];
      nans += std::isnan(x);
      finite += std::isfinite(x);
    }
    if (nans != k && finite != k)
      throw std::invalid_argument("VelocityMLP: context row " + std::to_string(i) +
                                  " mixes NaN or inf with numbers (a row of NaN means no "
                                  "condition; otherwise every value must be finite)");
    const bool present = nans == 0;
    for (std::int64_t j = 0; j < k; ++j)
      out[static_cast<std::size_t>(i * (k + 1) + j)] =
          present ? v[static_cast<std::size_t>(i * k + j)] : 0.0;
    out[static_cast<std::size_t>(i * (k + 1) + k)] = present ? 1.0 : 0.0;
  }
  return from_vector(out, Shape{batch, k + 1}, options_.dtype).to(device);
}

}  // namespace flowtape::nn
