// SPDX-License-Identifier: MIT
// The cuda backend of a build without CUDA (compiled instead of cuda_backend.cpp): every entry
// point that would touch a device throws, saying why. A cuda tensor cannot be created in such
// a build (its Storage asks allocate first), so the ops never get here; the stand-in keeps the
// program linkable and the error clear.
#include <stdexcept>

#include "flowtape/runtime/backend.hpp"

namespace flowtape {
namespace {

[[noreturn]] void no_cuda() {
  throw std::runtime_error(
      "flowtape: this build has no CUDA backend (built without CUDA: nvcc was not found or "
      "FLOWTAPE_CUDA=OFF); tensors can only live on the cpu device");
}

class NoCudaBackend final : public Backend {
 public:
  void* allocate(std::size_t, std::size_t&) override { no_cuda(); }
  void deallocate(void*, std::size_t) noexcept override {}
  void copy(void*, Device, const void*, Device, std::size_t) override { no_cuda(); }
  void fill(Tensor&, double) override { no_cuda(); }
  void cast(const Tensor&, Tensor&) override { no_cuda(); }
  void fill_normal(Tensor&, Generator&) override { no_cuda(); }
  void fill_uniform(Tensor&, Generator&, double, double) override { no_cuda(); }
  void unary(UnaryOp, const Tensor&, Tensor&, double) override { no_cuda(); }
  void nary(NaryOp, std::span<const Tensor>, Tensor&) override { no_cuda(); }
  void reduce(ReduceOp, const Tensor&, int, Tensor&) override { no_cuda(); }
  void sum_to(const Tensor&, Tensor&) override { no_cuda(); }
  void matmul(const Tensor&, const Tensor&, bool, bool, std::int64_t, std::int64_t, std::int64_t,
              std::int64_t, Tensor&) override {
    no_cuda();
  }
  void linear(const Tensor&, const Tensor&, const Tensor&, Tensor&) override { no_cuda(); }
  void permute(const Tensor&, std::span<const std::int64_t>, Tensor&) override { no_cuda(); }
  void slice_axis(const Tensor&, Tensor&, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                  std::int64_t) override {
    no_cuda();
  }
  void pad_axis(const Tensor&, Tensor&, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                std::int64_t) override {
    no_cuda();
  }
  void concat_axis(std::span<const Tensor>, std::span<const std::int64_t>, Tensor&, std::int64_t,
                   std::int64_t) override {
    no_cuda();
  }
  void gather(const Tensor&, const Tensor&, const IndexView&, Tensor&) override { no_cuda(); }
  void scatter_add(const Tensor&, const Tensor&, const IndexView&, Tensor&) override { no_cuda(); }
  void adam_update(Tensor&, const Tensor&, Tensor&, Tensor&, const AdamStep&) override {
    no_cuda();
  }
  void sgd_update(Tensor&, const Tensor&, Tensor*, double, double, double, bool) override {
    no_cuda();
  }
  void ema_update(Tensor&, const Tensor&, double) override { no_cuda(); }
  Tensor sum_of_squares(const Tensor&) override { no_cuda(); }
};

}  // namespace

namespace detail {
Backend& cuda_backend() {
  static NoCudaBackend b;
  return b;
}
}  // namespace detail

bool cuda_built() {
  return false;
}
int cuda_device_count() {
  return 0;
}
void cuda_select_device(int) {
  throw std::invalid_argument("cuda_select_device: this build has no CUDA backend");
}
void cuda_synchronize() {}
std::uint64_t cuda_host_waits() {
  return 0;
}
void cuda_empty_cache() {}

}  // namespace flowtape
