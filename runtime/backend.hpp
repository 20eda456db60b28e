// SPDX-License-Identifier: MIT
// A device as a backend: one interface, implemented for the cpu (kernels/cpu, cpu_backend.cpp)
// and for cuda (kernels/cuda, cuda_backend.cpp; in a build without CUDA every entry point
// throws). Everything above the runtime (the ops' forwards, tensor creation, the optimizers)
// asks backend(device) for the work instead of branching on the device, so a new device is a
// new implementation of this class, not a new branch in every op.
//
// Every entry point receives tensors that are already allocated on the backend's device with
// the output's shape and dtype; the caller (usually apply()) has checked the shapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "flowtape/kernels/cpu/index.hpp"
#include "flowtape/kernels/unary_ops.hpp"
#include "flowtape/runtime/tensor.hpp"

namespace flowtape {

class Generator;
using kernels::cpu::IndexView;

// The elementwise maps: the unary table's rows (kernels/unary_ops.hpp), then silu, sign and pow
// with a scalar exponent.
#define FLOWTAPE_UNARY_CODE(name, ...) name,
enum class UnaryOp { FLOWTAPE_UNARY_OPS(FLOWTAPE_UNARY_CODE) silu, sign, pow_scalar };
#undef FLOWTAPE_UNARY_CODE
// N-ary maps with NumPy broadcasting. copy (one input) is broadcast_to; where (three) is
// cond != 0 ? a : b; comparisons give 1 or 0 in the operands' dtype. silu_grad(x, g) =
// g silu'(x) and silu_grad2(x, g) = g silu''(x); their _denominator forms take silu's
// denominator 1 + e^-x (x's shape) as a third input, which a backend may read instead of
// recomputing the exp.
enum class NaryOp {
  copy,
  add,
  sub,
  mul,
  div,
  greater,
  less,
  equal,
  silu_grad,
  silu_grad2,
  where,
  silu_grad_denominator,
  silu_grad2_denominator
};
// Along one axis; softmax keeps the axis.
enum class ReduceOp { sum, max, logsumexp, softmax };

// The scalars of one Adam / AdamW step, in double (as PyTorch computes them on the host):
// m = b1 m + c1 g, v = b2 v + c2 g^2, p = shrink p - step_size m / (sqrt(v) / root_bc2 + eps),
// with g += l2 p first (Adam's L2 weight decay).
struct AdamStep {
  double b1, b2, c1, c2, l2, shrink, step_size, root_bc2, eps;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Memory. allocate returns at least `bytes` (64-byte aligned) and the block's true size in
  // `capacity`, which deallocate gets back.
  virtual void* allocate(std::size_t bytes, std::size_t& capacity) = 0;
  virtual void deallocate(void* ptr, std::size_t capacity) noexcept = 0;
  // Copies bytes where one end (or both) is this backend's device; a copy to the host waits.
  virtual void copy(void* dst, Device dst_dev, const void* src, Device src_dev,
                    std::size_t bytes) = 0;

  // Creation and conversion, for every dtype (convert_element's rules: a value an i64 cannot
  // hold exactly throws).
  virtual void fill(Tensor& t, double value) = 0;
  virtual void cast(const Tensor& x, Tensor& y) = 0;  // y: x's shape, another dtype
  // Philox samples from gen's (key, counter, stream), advancing gen as the CPU does: the same
  // draws on every backend for the same generator state. uniform is low + (high - low) u, u in
  // [0, 1), mapped in double and rounded once to the tensor's precision on both backends.
  virtual void fill_normal(Tensor& t, Generator& gen) = 0;
  virtual void fill_uniform(Tensor& t, Generator& gen, double low, double high) = 0;

  // The ops' forwards.
  virtual void unary(UnaryOp op, const Tensor& x, Tensor& out, double scalar = 0.0) = 0;
  virtual void nary(NaryOp op, std::span<const Tensor> in, Tensor& out) = 0;
  virtual void reduce(ReduceOp op, const Tensor& x, int axis, Tensor& out) = 0;
  virtual void sum_to(const Tensor& x, Tensor& out) = 0;  // out.shape() broadcasts to x's
  // out[i] = op(a[i]) op(b[i]) for i < batch: a, b and out are `batch` row-major matrices laid
  // end to end (m x k, k x n and m x n after the transposes). The matmul primitive broadcasts
  // batches before it gets here, so both operands have every batch.
  virtual void matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                      std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k,
                      Tensor& out) = 0;
  // out = x w^T + b (x [m, k], w [n, k], b [n]).
  virtual void linear(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out) = 0;
  virtual void permute(const Tensor& x, std::span<const std::int64_t> perm, Tensor& out) = 0;
  // x viewed as [outer, len, inner]: out = x[:, start:start + count, :].
  virtual void slice_axis(const Tensor& x, Tensor& out, std::int64_t outer, std::int64_t len,
                          std::int64_t inner, std::int64_t start, std::int64_t count) = 0;
  // out viewed as [outer, len, inner] is zero except out[:, start:start + count, :] = x.
  virtual void pad_axis(const Tensor& x, Tensor& out, std::int64_t outer, std::int64_t len,
                        std::int64_t inner, std::int64_t start, std::int64_t count) = 0;
  // out viewed as [outer, sum(lens), inner] is the parts side by side.
  virtual void concat_axis(std::span<const Tensor> parts, std::span<const std::int64_t> lens,
                           Tensor& out, std::int64_t outer, std::int64_t inner) = 0;
  // Integer indexing along an axis (kernels/cpu/index.hpp has the views): out = x at the i64
  // index, and its adjoint, out = zeros with src added at the index. The indices are checked.
  virtual void gather(const Tensor& x, const Tensor& index, const IndexView& v, Tensor& out) = 0;
  virtual void scatter_add(const Tensor& src, const Tensor& index, const IndexView& v,
                           Tensor& out) = 0;

  // The optimizers' fused updates, in place on p and the state buffers.
  virtual void adam_update(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamStep& s) = 0;
  // d = g + wd p; with momentum buf = mu buf + d, d = nesterov ? d + mu buf : buf; p -= lr d.
  virtual void sgd_update(Tensor& p, const Tensor& g, Tensor* buf, double lr, double wd, double mu,
                          bool nesterov) = 0;
  // An exponential moving average of weights: shadow = decay shadow + (1 - decay) p.
  virtual void ema_update(Tensor& shadow, const Tensor& p, double decay) = 0;
  // The sum of x's squared elements, accumulated in double, as a rank-0 f64 tensor on this
  // device (gradient clipping adds them up there and reads the total once).
  virtual Tensor sum_of_squares(const Tensor& x) = 0;
};

// The backend of `device`. Never throws; a device this build lacks answers with a backend
// whose entry points throw, saying so.
Backend& backend(Device device);
inline Backend& backend_of(const Tensor& t) {
  return backend(t.device());
}

// Copies bytes between any two devices (a copy to the host waits for the data).
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t bytes);

}  // namespace flowtape
