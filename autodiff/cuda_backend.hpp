// SPDX-License-Identifier: MIT
// The one seam between autodiff and kernels/cuda: Tensor-level entry points that the op
// forwards, Storage and the optimizers call when their data is on Device::cuda. Each one
// unpacks tensors into pointers, sizes and strides and calls the matching kernel.
//
// Built with CUDA (FLOWTAPE_HAS_CUDA) these are cuda_backend.cpp; without it
// cuda_backend_stub.cpp defines them all to throw "built without CUDA". Since a cuda tensor
// cannot be created in such a build (Storage allocates through device_alloc), the ops never
// reach the stubs; the stubs only keep the program linkable and the error message clear.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "flowtape/autodiff/op.hpp"
#include "flowtape/kernels/cuda/elementwise.hpp"
#include "flowtape/kernels/cuda/reduce.hpp"

namespace flowtape {
class Generator;
}

namespace flowtape::cuda_backend {

using kernels::cuda::Nary;
using kernels::cuda::Reduce;
using kernels::cuda::Unary;

bool built();        // true when this build has the CUDA backend
int device_count();  // 0 without a device (or without the backend); never throws

// Device memory through the caching allocator (kernels/cuda/allocator.hpp).
void* device_alloc(std::size_t bytes);
void device_free(void* ptr, std::size_t bytes) noexcept;
void empty_cache();

// Copies between any two devices; a copy to the host waits for the data.
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t bytes);
void synchronize();
std::uint64_t host_waits();  // kernels/cuda/runtime.hpp

// Creation and conversion on device tensors.
void fill(Tensor& t, double value);
void zero(Tensor& t);
void cast(const Tensor& x, Tensor& y);  // y has x's shape and another dtype
// Philox samples from gen's (key, counter, stream), advancing gen as the CPU fill would.
void fill_normal(Tensor& t, Generator& gen);
void fill_uniform(Tensor& t, Generator& gen);

// Op forwards. `out` is allocated on the device with the output shape and dtype.
void unary(Unary op, const Tensor& x, Tensor& out, double scalar = 0.0);
void nary(Nary op, Inputs in, Tensor& out);  // 1 (copy), 2 or 3 (where) inputs, broadcasting
void reduce(Reduce op, const Tensor& x, int axis, Tensor& out);
void sum_to(const Tensor& x, Tensor& out);  // out.shape() broadcasts to x.shape()
void matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, std::int64_t batch,
            std::int64_t m, std::int64_t n, std::int64_t k, Tensor& out);
// out = x w^T + b (x [m, k], w [n, k], b [n]): b's rows, then one GEMM accumulating onto them.
void linear(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out);
void permute(const Tensor& x, std::span<const std::int64_t> perm, Tensor& out);
void slice_axis(const Tensor& x, Tensor& out, std::int64_t outer, std::int64_t len,
                std::int64_t inner, std::int64_t start, std::int64_t count);
void pad_axis(const Tensor& x, Tensor& out, std::int64_t outer, std::int64_t len,
              std::int64_t inner, std::int64_t start, std::int64_t count);
void concat_axis(Inputs parts, std::span<const std::int64_t> lens, Tensor& out, std::int64_t outer,
                 std::int64_t inner);

// Fused optimizer steps (kernels/cuda/optim.hpp); the scalars are the CPU loop's, in double.
struct AdamArgs {
  double b1, b2, c1, c2, l2, shrink, step_size, root_bc2, eps;
};
void adam_update(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamArgs& a);
void sgd_update(Tensor& p, const Tensor& g, Tensor* buf, double lr, double wd, double mu,
                bool nesterov);

}  // namespace flowtape::cuda_backend
