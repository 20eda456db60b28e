// SPDX-License-Identifier: MIT
// Tensor: a cheap, shared handle to a contiguous row-major buffer with a shape, a dtype and a
// device, plus its autodiff metadata (its slot on the active tape, an optional forward-mode
// tangent). Copying a Tensor copies the handle, not the data. The differentiable operations
// on tensors are declared in ops.hpp; creation functions are below.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "flowtape/runtime/dtype.hpp"
#include "flowtape/runtime/shape.hpp"

namespace flowtape {

class Generator;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int rank() const { return shape().rank(); }
  std::int64_t numel() const { return shape().numel(); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype()); }
  std::int64_t size(int axis) const;  // negative axes count from the end
  DType dtype() const;
  Device device() const;

  // Typed access to the elements; throws if T is not the tensor's dtype or the data is not
  // on the CPU. data() reads. mutable_data() writes, through every handle that shares the
  // buffer, and counts as a write: a tape that recorded the tensor before refuses to
  // differentiate through it afterwards (Storage::version), as its rules would read the new
  // values. The raw forms do the same without the checks, on any device.
  template <class T>
  const T* data() const;
  template <class T>
  T* mutable_data();
  const void* raw_data() const;
  void* mutable_raw_data();

  double item() const;                    // the single element of a one-element tensor
  double at(std::int64_t flat) const;     // element by flat row-major index, as double
  std::vector<double> to_vector() const;  // all elements, as double
  // (item, at and to_vector copy a cuda tensor's data to the host, waiting for it.)

  // The same values on `device` (differentiable; see to_device in ops.hpp). Returns *this
  // when the tensor is already there.
  Tensor to(Device device) const;

  // Forward mode: the tangent attached while inside jvp() (the innermost one whose tangents
  // propagate now), if any.
  bool has_tangent() const;
  Tensor tangent() const;

  std::string str() const;  // "Tensor(f32, [2, 3])"
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Owned, 64-byte aligned memory behind one or more tensors.
struct Storage {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  Device device = Device::cpu;
  // How many times the buffer has been handed out for writing (Tensor::mutable_data): a tape
  // notes it for each tensor it records and checks it before using the tensor again.
  std::uint32_t version = 0;
  Storage(std::size_t nbytes, Device dev);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

 private:
  std::size_t capacity_ = 0;  // the allocator's block size (>= bytes)
};

// Bytes currently held by all tensor storage on this process (all threads): a leak check and
// a memory gauge that, unlike the resident set size, the allocator's caching does not blur.
std::size_t live_storage_bytes();

namespace detail {
// The jvp() running at each nesting depth on this thread, as a number no other jvp() call had
// (0: none). A tangent is stored with the number of the call that set it and read only while
// that call runs, so a tensor that kept a tangent from a jvp() that returned (a value captured
// out of it) is a constant to later ones at the same depth. autodiff's ForwardModeScope sets it.
inline constexpr int kJvpDepths = 4;
std::uint64_t* jvp_generations();  // this thread's, [kJvpDepths]
}  // namespace detail

struct TensorImpl {
  Shape shape;
  DType dtype = DType::f32;
  Device device = Device::cpu;
  std::shared_ptr<Storage> storage;
  // Autodiff metadata, written only into tensors an op has just made, never into a watched
  // one (a tape keeps its watched tensors' slots itself): the op that computed this tensor was
  // recorded on tape `tape_id` (if that tape is still the active one), which gave it adjoint
  // slot `slot`; tangent(k) is its tangent for the jvp() at nesting depth k + 1.
  static constexpr int kMaxJvpDepth = detail::kJvpDepths;
  std::uint64_t tape_id = 0;
  std::int64_t slot = -1;
  // The tangent of the jvp() running at depth k + 1, if that very call set it (undefined for
  // one left by a call that has returned).
  const Tensor& tangent(int k) const {
    static const Tensor none;
    if (generation_[static_cast<std::size_t>(k)] != detail::jvp_generations()[k]) return none;
    return k == 0 ? tangent_ : deeper_.at(k);
  }
  void set_tangent(int k, Tensor t) {
    generation_[static_cast<std::size_t>(k)] = t.defined() ? detail::jvp_generations()[k] : 0;
    if (k == 0)
      tangent_ = std::move(t);
    else
      deeper_.set(k, std::move(t));
  }

 private:
  // Depth 1 is held here; deeper tangents, which only nested jvp() calls make, out of line,
  // so that every tensor does not carry (and construct and destroy) four handles.
  class DeeperTangents {
   public:
    DeeperTangents() = default;
    DeeperTangents(const DeeperTangents& o) : p_(o.p_ ? std::make_unique<Array>(*o.p_) : nullptr) {}
    DeeperTangents& operator=(const DeeperTangents& o) {
      p_ = o.p_ ? std::make_unique<Array>(*o.p_) : nullptr;
      return *this;
    }
    const Tensor& at(int k) const {
      static const Tensor none;
      return p_ ? (*p_)[static_cast<std::size_t>(k - 1)] : none;
    }
    void set(int k, Tensor t) {
      if (!p_) {
        if (!t.defined()) return;
        p_ = std::make_unique<Array>();
      }
      (*p_)[static_cast<std::size_t>(k - 1)] = std::move(t);
    }

   private:
    using Array = std::array<Tensor, kMaxJvpDepth - 1>;
    std::unique_ptr<Array> p_;
  };
  Tensor tangent_;
  DeeperTangents deeper_;
  std::array<std::uint64_t, kMaxJvpDepth> generation_{};
};

// --- creation -------------------------------------------------------------------------------
Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
            Device device = Device::cpu);
Tensor scalar(double value, DType dtype = DType::f32);  // a rank-0 tensor
Tensor zeros_like(const Tensor& x);
Tensor ones_like(const Tensor& x);
Tensor full_like(const Tensor& x, double value);
Tensor scalar_like(const Tensor& x, double value);  // rank 0, x's dtype
// [start, stop) in steps of `step`, as a 1-D tensor.
Tensor arange(double start, double stop, double step = 1.0, DType dtype = DType::f32);
Tensor arange(std::int64_t n, DType dtype = DType::f32);
// Copies `values` (row-major) into a new tensor of `shape`; the count must match.
Tensor from_vector(std::span<const double> values, const Shape& shape, DType dtype = DType::f32);
Tensor from_vector(std::span<const float> values, const Shape& shape);
// Standard normal and uniform [0, 1) samples drawn from `gen` (advancing it).
// On cuda they give the CPU's numbers for the same generator state (Philox is counter-based;
// see kernels/cuda/random.hpp) and advance gen by the same amount.
Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::f32,
             Device device = Device::cpu);
Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::f32,
            Device device = Device::cpu);
Tensor uniform(const Shape& shape, double low, double high, Generator& gen,
               DType dtype = DType::f32, Device device = Device::cpu);

// A new handle to the same buffer with the same autodiff slot and no tangents from jvp depth
// `depth` inward (all of them by default). Used by the autodiff verbs; users want
// stop_gradient() or copy().
Tensor alias(const Tensor& x, int depth = 1);
// A deep copy of the data, detached from any tape.
Tensor copy(const Tensor& x);
// Converts to another dtype (a copy, detached from any tape).
Tensor to_dtype(const Tensor& x, DType dtype);
// A copy of x's data on the cpu, detached from any tape (x itself when already there).
Tensor to_host(const Tensor& x);
// Moves the buffer behind x (and behind every handle sharing x's TensorImpl) to `device`, in
// place: how a model's parameters go to the GPU while layers keep their handles. Detached:
// do not relocate a tensor recorded on an active tape.
void relocate(Tensor& x, Device device);
// Whether this build has the CUDA backend, and how many devices it can see (0 without a
// driver or GPU).
bool cuda_built();
int cuda_device_count();
// Makes device `index` (0 .. cuda_device_count() - 1) the one the calling thread uses (CUDA
// keeps one per thread; flowtape's CUDA work runs on the thread that makes the tensors): one
// GPU per rank of a data-parallel job. Call it before any CUDA tensor exists: afterwards
// another device throws std::logic_error (the allocator's cached blocks and the cuBLAS
// handles belong to the first). Throws std::invalid_argument for a bad index or without the
// CUDA backend.
void cuda_select_device(int index);
// Waits for all queued device work (timing); a no-op without CUDA.
void cuda_synchronize();
// How many times the host has waited for the device so far (copies to or from the host,
// cuda_synchronize); 0 without CUDA. For checking that a loop stays asynchronous.
std::uint64_t cuda_host_waits();
// Returns the device allocator's cached (free) blocks to the driver.
void cuda_empty_cache();

}  // namespace flowtape
