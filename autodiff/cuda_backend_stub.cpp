// SPDX-License-Identifier: MIT
// cuda_backend for builds without CUDA: every entry point that would touch a device throws.
// (Compiled instead of cuda_backend.cpp when FLOWTAPE_HAS_CUDA is not defined.)
#include <stdexcept>

#include "flowtape/autodiff/cuda_backend.hpp"

namespace flowtape::cuda_backend {

namespace {
[[noreturn]] void no_cuda() {
  throw std::runtime_error(
      "flowtape: this build has no CUDA backend (built without CUDA: nvcc was not found or "
      "FLOWTAPE_CUDA=OFF); tensors can only live on the cpu device");
}
}  // namespace

bool built() {
  return false;
}
int device_count() {
  return 0;
}
void* device_alloc(std::size_t) {
  no_cuda();
}
void device_free(void*, std::size_t) noexcept {}
void empty_cache() {}
void copy_bytes(void*, Device, const void*, Device, std::size_t) {
  no_cuda();
}
void synchronize() {}
std::uint64_t host_waits() {
  return 0;
}
void fill(Tensor&, double) {
  no_cuda();
}
void zero(Tensor&) {
  no_cuda();
}
void cast(const Tensor&, Tensor&) {
  no_cuda();
}
void fill_normal(Tensor&, Generator&) {
  no_cuda();
}
void fill_uniform(Tensor&, Generator&) {
  no_cuda();
}
void unary(Unary, const Tensor&, Tensor&, double) {
  no_cuda();
}
void nary(Nary, Inputs, Tensor&) {
  no_cuda();
}
void reduce(Reduce, const Tensor&, int, Tensor&) {
  no_cuda();
}
void sum_to(const Tensor&, Tensor&) {
  no_cuda();
}
void matmul(const Tensor&, const Tensor&, bool, bool, std::int64_t, std::int64_t, std::int64_t,
            std::int64_t, Tensor&) {
  no_cuda();
}
void linear(const Tensor&, const Tensor&, const Tensor&, Tensor&) {
  no_cuda();
}
void permute(const Tensor&, std::span<const std::int64_t>, Tensor&) {
  no_cuda();
}
void slice_axis(const Tensor&, Tensor&, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                std::int64_t) {
  no_cuda();
}
void pad_axis(const Tensor&, Tensor&, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
              std::int64_t) {
  no_cuda();
}
void concat_axis(Inputs, std::span<const std::int64_t>, Tensor&, std::int64_t, std::int64_t) {
  no_cuda();
}
void adam_update(Tensor&, const Tensor&, Tensor&, Tensor&, const AdamArgs&) {
  no_cuda();
}
void sgd_update(Tensor&, const Tensor&, Tensor*, double, double, double, bool) {
  no_cuda();
}

}  // namespace flowtape::cuda_backend
