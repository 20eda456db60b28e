// SPDX-License-Identifier: MIT
// Sinusoidal and random Fourier time embeddings.
#include "flowtape/nn/time_embedding.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"

namespace flowtape::nn {
namespace {

void check_dim(std::int64_t dim, const char* who) {
  if (dim <= 0 || dim % 2 != 0)
    throw std::invalid_argument(std::string(who) + ": dim must be positive and even, got " +
                                std::to_string(dim));
}

// [cos(arg), sin(arg)] along the feature axis.
Tensor cos_sin(const Tensor& arg) {
  return concat({cos(arg), sin(arg)}, 1);
}

}  // namespace

Tensor time_column(const Tensor& t, std::int64_t batch, DType dtype) {
  if (!t.defined()) throw std::invalid_argument("time embedding: t is undefined");
  // A different dtype is converted; the conversion is a copy, so no gradient flows to t then.
  const Tensor tt = t.dtype() == dtype ? t : to_dtype(t, dtype);
  if (tt.numel() == 1) {
    const std::int64_t b = batch < 0 ? 1 : batch;
    return broadcast_to(reshape(tt, Shape{1, 1}), Shape{b, 1});
  }
  const bool column = tt.rank() == 1 || (tt.rank() == 2 && tt.size(1) == 1);
  if (!column || (batch >= 0 && tt.size(0) != batch))
    throw std::invalid_argument("time embedding: t has shape " + tt.shape().str() +
                                "; expected [B], [B, 1] or a single element" +
                                (batch >= 0 ? " with B = " + std::to_string(batch) : ""));
  return reshape(tt, Shape{tt.size(0), 1});
}

SinusoidalEmbedding::SinusoidalEmbedding(std::int64_t dim, double max_period, double scale,
                                         DType dtype)
    : dim_(dim), scale_(scale), dtype_(dtype) {
  check_dim(dim, "SinusoidalEmbedding");
  if (!(std::isfinite(max_period) && max_period > 0 && std::isfinite(scale)))
    throw std::invalid_argument(
        "SinusoidalEmbedding: max_period must be finite and > 0 and scale "
        "finite, got " +
        std::to_string(max_period) + " and " + std::to_string(scale));
  const std::int64_t half = dim / 2;
  std::vector<double> f(static_cast<std::size_t>(half));
  for (std::int64_t k = 0; k < half; ++k)
    f[static_cast<std::size_t>(k)] =
        std::exp(-std::log(max_period) * static_cast<double>(k) / static_cast<double>(half));
  freqs_ = from_vector(f, Shape{half}, dtype);
}

Tensor SinusoidalEmbedding::operator()(const Tensor& t, std::int64_t batch) const {
  const Tensor tc = time_column(t, batch, dtype_);
  // The frequencies are a constant, not a buffer (checkpoints do not carry them); a model moved
  // to another device copies them there once, on first use.
  Tensor freqs;
  {
    const std::lock_guard<std::mutex> lock(*freqs_mutex_);
    if (freqs_.device() != tc.device()) freqs_ = freqs_.to(tc.device());
    freqs = freqs_;
  }
  return cos_sin(tc * scale_ * freqs);
}

FourierEmbedding::FourierEmbedding(std::int64_t dim, Generator& gen, double sigma, DType dtype)
    : dim_(dim), dtype_(dtype) {
  check_dim(dim, "FourierEmbedding");
  if (!(std::isfinite(sigma) && sigma > 0))
    throw std::invalid_argument("FourierEmbedding: sigma must be finite and > 0, got " +
                                std::to_string(sigma));
  NoGrad no_grad;  // a constant even when built inside a recording tape
  freqs = register_buffer("freqs", randn(Shape{dim / 2}, gen, dtype) * sigma);
}

Tensor FourierEmbedding::operator()(const Tensor& t, std::int64_t batch) const {
  return cos_sin(time_column(t, batch, dtype_) * (2 * std::numbers::pi) * freqs);
}

}  // namespace flowtape::nn
