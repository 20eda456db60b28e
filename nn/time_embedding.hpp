// SPDX-License-Identifier: MIT
// Embeddings of the flow time t (a scalar per sample) into `dim` features.
//
//  - SinusoidalEmbedding: the transformer / DDPM embedding [cos(s t f_k), sin(s t f_k)] with
//    f_k = max_period^(-k / half), k < half = dim / 2. Flow time lives in [0, 1], so it is
//    first scaled by s (default 1000, the DDPM step range) as most flow-matching code does.
//  - FourierEmbedding: random Fourier features [cos(2 pi t B_k), sin(2 pi t B_k)] with fixed
//    B_k ~ N(0, sigma^2) (Tancik et al. 2020). B is a buffer: saved in checkpoints, not trained.
//
// Both accept t as [B], [B, 1], or one element (the same time for the whole batch, then
// `batch` sets B) and return [B, dim].
#pragma once

#include <memory>
#include <mutex>

#include "flowtape/nn/module.hpp"
#include "flowtape/runtime/random.hpp"

namespace flowtape::nn {

// t as a [batch, 1] column of dtype `dtype`; a one-element t is broadcast to the batch.
Tensor time_column(const Tensor& t, std::int64_t batch, DType dtype);

class SinusoidalEmbedding : public Module {
 public:
  SinusoidalEmbedding(std::int64_t dim, double max_period = 10000.0, double scale = 1000.0,
                      DType dtype = DType::f32);
  Tensor operator()(const Tensor& t, std::int64_t batch = -1) const;
  std::int64_t dim() const { return dim_; }

 private:
  std::int64_t dim_;
  double scale_;
  DType dtype_;
  // [dim / 2], a constant of the architecture (not saved); moves to the input's device on
  // first use. Threads may share the model (docs/autodiff.md), so the handle is read and
  // replaced under the mutex.
  mutable Tensor freqs_;
  std::shared_ptr<std::mutex> freqs_mutex_ = std::make_shared<std::mutex>();
};

class FourierEmbedding : public Module {
 public:
  FourierEmbedding(std::int64_t dim, Generator& gen, double sigma = 4.0, DType dtype = DType::f32);
  Tensor operator()(const Tensor& t, std::int64_t batch = -1) const;
  std::int64_t dim() const { return dim_; }

  Tensor freqs;  // [dim / 2] buffer "freqs"

 private:
  std::int64_t dim_;
  DType dtype_;
};

}  // namespace flowtape::nn
