// SPDX-License-Identifier: MIT
// The cuda backend (backend.hpp), built with CUDA: tensors to pointers, then kernels/cuda.
// Nothing here synchronises except copies to the host. (cuda_backend_stub.cpp stands in for it
// in a build without CUDA.)
#include <array>
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "flowtape/kernels/cuda/allocator.hpp"
#include "flowtape/kernels/cuda/elementwise.hpp"
#include "flowtape/kernels/cuda/gemm.hpp"
#include "flowtape/kernels/cuda/index.hpp"
#include "flowtape/kernels/cuda/layout.hpp"
#include "flowtape/kernels/cuda/optim.hpp"
#include "flowtape/kernels/cuda/random.hpp"
#include "flowtape/kernels/cuda/reduce.hpp"
#include "flowtape/kernels/cuda/runtime.hpp"
#include "flowtape/runtime/backend.hpp"
#include "flowtape/runtime/random.hpp"
#include "flowtape/runtime/uniform_bounds.hpp"

namespace flowtape {
namespace {

namespace kc = kernels::cuda;

// The runtime's op codes and the kernels' are spelled from the same lists, in the same order.
static_assert(static_cast<int>(UnaryOp::pow_scalar) == static_cast<int>(kc::Unary::pow_scalar));
static_assert(static_cast<int>(NaryOp::where) == static_cast<int>(kc::Nary::where));
static_assert(static_cast<int>(ReduceOp::softmax) == static_cast<int>(kc::Reduce::softmax));

// A tensor's device buffer, to read (in_ptr) or to write (out_ptr, which counts as a write:
// Storage::version). Two names, so that a non-const handle to an input cannot pick the writing
// form.
template <class T>
const T* in_ptr(const Tensor& t) {
  return static_cast<const T*>(t.raw_data());
}
template <class T>
T* out_ptr(Tensor& t) {
  return static_cast<T*>(t.mutable_raw_data());
}

// Fills device tensor t through a host tensor of its shape and dtype, which `make` fills: the
// conversions the device kernels do not have (integer fills, checked casts).
template <class F>
void through_host(Tensor& t, F make) {
  Tensor h = empty(t.shape(), t.dtype(), Device::cpu);
  make(h);
  kc::copy_host_to_device(t.mutable_raw_data(), h.raw_data(), t.nbytes());
}

template <std::size_t N>
void nary_n(kc::Nary op, std::span<const Tensor> in, Tensor& out) {
  dispatch(out.dtype(), [&]<class T>() {
    std::array<const T*, N> p;
    std::array<const std::int64_t*, N> s;
    std::array<int, N> r;
    for (std::size_t k = 0; k < N; ++k) {
      p[k] = in_ptr<T>(in[k]);
      s[k] = in[k].shape().data();
      r[k] = in[k].rank();
    }
    kc::nary<T, N>(op, p, s, r, out_ptr<T>(out), out.shape().data(), out.rank());
  });
}

class CudaBackend final : public Backend {
 public:
  void* allocate(std::size_t bytes, std::size_t& capacity) override {
    capacity = bytes;
    return kc::device_malloc(bytes);  // the caching device allocator
  }
  void deallocate(void* ptr, std::size_t capacity) noexcept override {
    kc::device_free(ptr, capacity);
  }
  void copy(void* dst, Device dst_dev, const void* src, Device src_dev,
            std::size_t bytes) override {
    if (dst_dev == Device::cuda && src_dev == Device::cuda)
      kc::copy_device_to_device(dst, src, bytes);
    else if (dst_dev == Device::cuda)
      kc::copy_host_to_device(dst, src, bytes);
    else
      kc::copy_device_to_host(dst, src, bytes);
  }

  void fill(Tensor& t, double value) override {
    if (!is_floating(t.dtype()))
      return through_host(t, [&](Tensor& h) { backend(Device::cpu).fill(h, value); });
    if (value == 0.0 && !std::signbit(value))
      return kc::zero_device(t.mutable_raw_data(), t.nbytes());
    dispatch(t.dtype(),
             [&]<class T>() { kc::fill<T>(out_ptr<T>(t), t.numel(), static_cast<T>(value)); });
  }
  void cast(const Tensor& x, Tensor& y) override {
    if (x.dtype() == y.dtype())
      return kc::copy_device_to_device(y.mutable_raw_data(), x.raw_data(), x.nbytes());
    // Floating to i64 goes through the host, which checks every value (a kernel cannot throw).
    if (y.dtype() == DType::i64 && is_floating(x.dtype()))
      return through_host(y, [&](Tensor& h) { backend(Device::cpu).cast(to_host(x), h); });
    dispatch_any(x.dtype(), [&]<class S>() {
      dispatch_any(y.dtype(), [&]<class D>() {
        if constexpr (!std::is_same_v<S, D> &&
                      !(std::is_same_v<D, std::int64_t> && std::is_floating_point_v<S>))
          kc::cast<S, D>(in_ptr<S>(x), out_ptr<D>(y), x.numel());
      });
    });
  }
  // The device kernels start at gen's counter; gen then skips the blocks they used, exactly as
  // Generator::fill_* would have advanced it.
  void fill_normal(Tensor& t, Generator& gen) override {
    dispatch(t.dtype(), [&]<class T>() {
      kc::philox_normal<T>(out_ptr<T>(t), t.numel(), gen.key(), gen.counter(), gen.stream());
    });
    gen = Generator::from_state(gen.key(), gen.counter() + kc::philox_blocks_pairs(t.numel()),
                                gen.stream());
  }
  void fill_uniform(Tensor& t, Generator& gen, double low, double high) override {
    dispatch(t.dtype(), [&]<class T>() {
      kc::philox_uniform<T>(out_ptr<T>(t), t.numel(), gen.key(), gen.counter(), gen.stream());
    });
    const std::uint64_t blocks = t.dtype() == DType::f32 ? kc::philox_blocks_uniform_f32(t.numel())
                                                         : kc::philox_blocks_pairs(t.numel());
    gen = Generator::from_state(gen.key(), gen.counter() + blocks, gen.stream());
    if (low == 0.0 && high == 1.0) return;
    // low + (high - low) u in double, as the CPU maps it, then rounded once to the tensor's
    // precision: in f32, high - low alone can overflow (-3e38, 3e38) to inf.
    Tensor wide = t;
    if (t.dtype() != DType::f64) {
      wide = empty(t.shape(), DType::f64, Device::cuda);
      cast(t, wide);
    }
    // (A range wider than the largest double is halved, then doubled, as on the CPU.)
    const bool halved = !std::isfinite(high - low);
    const Tensor scale =
        full(Shape{}, halved ? high / 2 - low / 2 : high - low, DType::f64, Device::cuda);
    const Tensor shift = full(Shape{}, halved ? low / 2 : low, DType::f64, Device::cuda);
    const std::array<Tensor, 2> times{wide, scale};
    nary_n<2>(kc::Nary::mul, times, wide);
    const std::array<Tensor, 2> plus{wide, shift};
    nary_n<2>(kc::Nary::add, plus, wide);
    if (halved) {
      const std::array<Tensor, 2> doubled{wide, full(Shape{}, 2.0, DType::f64, Device::cuda)};
      nary_n<2>(kc::Nary::mul, doubled, wide);
    }
    // Clamped in f64 to the dtype's own ends of [low, high) (uniform_bounds.hpp), exact there,
    // so the rounding to the tensor's precision below cannot leave the range.
    const UniformBounds b = dispatch(
        t.dtype(), [&]<class T>() { return uniform_bounds<T>(low, high, dtype_name(t.dtype())); });
    const Tensor least = full(Shape{}, b.least, DType::f64, Device::cuda);
    const Tensor greatest = full(Shape{}, b.greatest, DType::f64, Device::cuda);
    Tensor inside = empty(t.shape(), DType::f64, Device::cuda);  // 1 where the bound holds
    Tensor clamped = empty(t.shape(), DType::f64, Device::cuda);
    nary_n<2>(kc::Nary::less, std::array<Tensor, 2>{greatest, wide}, inside);
    nary_n<3>(kc::Nary::where, std::array<Tensor, 3>{inside, greatest, wide}, clamped);
    nary_n<2>(kc::Nary::less, std::array<Tensor, 2>{clamped, least}, inside);
    nary_n<3>(kc::Nary::where, std::array<Tensor, 3>{inside, least, clamped}, wide);
    if (t.dtype() != DType::f64) cast(wide, t);
  }

  void unary(UnaryOp op, const Tensor& x, Tensor& out, double scalar) override {
    dispatch(out.dtype(), [&]<class T>() {
      kc::unary<T>(static_cast<kc::Unary>(op), in_ptr<T>(x), out_ptr<T>(out), out.numel(), scalar);
    });
  }
  void nary(NaryOp op, std::span<const Tensor> in, Tensor& out) override {
    // The device kernels recompute silu's exp rather than read the denominator.
    if (op == NaryOp::silu_grad_denominator)
      return nary_n<2>(kc::Nary::silu_grad, in.first(2), out);
    if (op == NaryOp::silu_grad2_denominator)
      return nary_n<2>(kc::Nary::silu_grad2, in.first(2), out);
    const auto code = static_cast<kc::Nary>(op);
    switch (in.size()) {
      case 1:
        return nary_n<1>(code, in, out);
      case 2:
        return nary_n<2>(code, in, out);
      case 3:
        return nary_n<3>(code, in, out);
      default:
        throw std::invalid_argument("cuda backend nary: 1, 2 or 3 inputs");
    }
  }
  void reduce(ReduceOp op, const Tensor& x, int axis, Tensor& out) override {
    const Shape& s = x.shape();
    dispatch(out.dtype(), [&]<class T>() {
      kc::reduce_axis<T>(static_cast<kc::Reduce>(op), in_ptr<T>(x), out_ptr<T>(out),
                         s.numel(0, axis), s[axis], s.numel(axis + 1, s.rank()));
    });
  }
  // As the CPU kernel: sum the leading extra axes in one pass, then each axis where the target
  // has extent 1, through device temporaries from the caching allocator.
  void sum_to(const Tensor& x, Tensor& out) override {
    const Shape& xs = x.shape();
    const Shape& target = out.shape();
    const int lead = xs.rank() - target.rank();
    Tensor cur = x;
    Shape cur_shape;
    for (int d = lead; d < xs.rank(); ++d) cur_shape.push_back(xs[d]);
    dispatch(out.dtype(), [&]<class T>() {
      if (lead > 0) {
        Tensor next = empty(cur_shape, x.dtype(), Device::cuda);
        kc::reduce_axis<T>(kc::Reduce::sum, in_ptr<T>(cur), out_ptr<T>(next), 1, xs.numel(0, lead),
                           cur_shape.numel());
        cur = next;
      }
      for (int d = 0; d < target.rank(); ++d) {
        if (target[d] != 1 || cur_shape[d] == 1) continue;
        const Shape reduced = cur_shape.reduced(d, true);
        Tensor next = empty(reduced, x.dtype(), Device::cuda);
        kc::reduce_axis<T>(kc::Reduce::sum, in_ptr<T>(cur), out_ptr<T>(next), cur_shape.numel(0, d),
                           cur_shape[d], cur_shape.numel(d + 1, cur_shape.rank()));
        cur = next;
        cur_shape = reduced;
      }
    });
    kc::copy_device_to_device(out.mutable_raw_data(), cur.raw_data(), out.nbytes());
  }
  void matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, std::int64_t batch,
              std::int64_t m, std::int64_t n, std::int64_t k, Tensor& out) override {
    const std::int64_t lda = a.size(-1), ldb = b.size(-1);
    dispatch(out.dtype(), [&]<class T>() {
      kc::gemm<T>(ta, tb, m, n, k, T(1), in_ptr<T>(a), lda, m * k, in_ptr<T>(b), ldb, k * n, T(0),
                  out_ptr<T>(out), n, m * n, batch);
    });
  }
  void linear(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out) override {
    const std::int64_t m = x.size(0), k = x.size(1), n = w.size(0);
    dispatch(out.dtype(), [&]<class T>() {
      if (kc::gemm_bias<T>(m, n, k, in_ptr<T>(x), in_ptr<T>(w), in_ptr<T>(b), out_ptr<T>(out)))
        return;
      // Unsupported by cuBLASLt (or k = 0): every row of out = b, then the GEMM accumulates.
      nary_n<1>(kc::Nary::copy, std::span<const Tensor>(&b, 1), out);
      kc::gemm<T>(false, true, m, n, k, T(1), in_ptr<T>(x), k, m * k, in_ptr<T>(w), k, n * k, T(1),
                  out_ptr<T>(out), n, m * n, 1);
    });
  }
  void permute(const Tensor& x, std::span<const std::int64_t> perm, Tensor& out) override {
    kc::permute(x.raw_data(), out.mutable_raw_data(), dtype_size(out.dtype()), x.shape().span(),
                perm);
  }
  void slice_axis(const Tensor& x, Tensor& out, std::int64_t outer, std::int64_t len,
                  std::int64_t inner, std::int64_t start, std::int64_t count) override {
    kc::slice_axis(x.raw_data(), out.mutable_raw_data(), dtype_size(out.dtype()), outer, len, inner,
                   start, count);
  }
  void pad_axis(const Tensor& x, Tensor& out, std::int64_t outer, std::int64_t len,
                std::int64_t inner, std::int64_t start, std::int64_t count) override {
    kc::pad_axis(x.raw_data(), out.mutable_raw_data(), dtype_size(out.dtype()), outer, len, inner,
                 start, count);
  }
  void concat_axis(std::span<const Tensor> parts, std::span<const std::int64_t> lens, Tensor& out,
                   std::int64_t outer, std::int64_t inner) override {
    std::vector<const void*> p;
    for (const Tensor& t : parts) p.push_back(t.raw_data());
    kc::concat_axis(p, lens, out.mutable_raw_data(), dtype_size(out.dtype()), outer, inner);
  }

  // The indices were checked on the host (the ops do so before calling).
  void gather(const Tensor& x, const Tensor& index, const IndexView& v, Tensor& out) override {
    dispatch(out.dtype(), [&]<class T>() {
      kc::gather_axis<T>(in_ptr<T>(x), in_ptr<std::int64_t>(index), out_ptr<T>(out), v);
    });
  }
  void scatter_add(const Tensor& src, const Tensor& index, const IndexView& v,
                   Tensor& out) override {
    dispatch(out.dtype(), [&]<class T>() {
      kc::scatter_add_axis<T>(in_ptr<T>(src), in_ptr<std::int64_t>(index), out_ptr<T>(out), v);
    });
  }

  void adam_update(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamStep& a) override {
    dispatch(p.dtype(), [&]<class T>() {
      const kc::AdamScalars<T> s{
          static_cast<T>(a.b1),        static_cast<T>(a.b2),       static_cast<T>(a.c1),
          static_cast<T>(a.c2),        static_cast<T>(a.l2),       static_cast<T>(a.shrink),
          static_cast<T>(a.step_size), static_cast<T>(a.root_bc2), static_cast<T>(a.eps)};
      kc::adam_update<T>(out_ptr<T>(p), in_ptr<T>(g), out_ptr<T>(m), out_ptr<T>(v), p.numel(), s);
    });
  }
  void sgd_update(Tensor& p, const Tensor& g, Tensor* buf, double lr, double wd, double mu,
                  bool nesterov) override {
    dispatch(p.dtype(), [&]<class T>() {
      kc::sgd_update<T>(out_ptr<T>(p), in_ptr<T>(g), buf ? out_ptr<T>(*buf) : nullptr, p.numel(),
                        static_cast<T>(lr), static_cast<T>(wd), static_cast<T>(mu), nesterov);
    });
  }

  // As ops in the tensor's precision (decay s, then (1 - decay) p, then their sum), as the
  // update was written before it became a backend entry.
  void ema_update(Tensor& shadow, const Tensor& p, double decay) override {
    const Tensor d = full(Shape{}, decay, p.dtype(), Device::cuda);
    const Tensor c = full(Shape{}, 1 - decay, p.dtype(), Device::cuda);
    Tensor a = empty(p.shape(), p.dtype(), Device::cuda);
    Tensor b = empty(p.shape(), p.dtype(), Device::cuda);
    nary_n<2>(kc::Nary::mul, std::array<Tensor, 2>{shadow, d}, a);
    nary_n<2>(kc::Nary::mul, std::array<Tensor, 2>{p, c}, b);
    nary_n<2>(kc::Nary::add, std::array<Tensor, 2>{a, b}, shadow);
  }

  // In f64 on the device: widened, squared in place, then summed to one element.
  Tensor sum_of_squares(const Tensor& x) override {
    Tensor wide = empty(x.shape(), DType::f64, Device::cuda);
    cast(x, wide);
    kc::unary<double>(kc::Unary::square, in_ptr<double>(wide), out_ptr<double>(wide), wide.numel());
    Tensor out = empty(Shape{}, DType::f64, Device::cuda);
    kc::reduce_axis<double>(kc::Reduce::sum, in_ptr<double>(wide), out_ptr<double>(out), 1,
                            wide.numel(), 1);
    return out;
  }
};

}  // namespace

namespace detail {
Backend& cuda_backend() {
  static CudaBackend b;
  return b;
}
}  // namespace detail

bool cuda_built() {
  return true;
}
int cuda_device_count() {
  return kc::device_count();
}
void cuda_select_device(int index) {
  const int n = kc::device_count();
  if (index < 0 || index >= n)
    throw std::invalid_argument("cuda_select_device: device " + std::to_string(index) + " of " +
                                std::to_string(n));
  // The allocator's cache and the cuBLAS handles belong to the device they were made on: once
  // memory has been allocated, another device would be handed the first one's blocks.
  if (index != kc::current_device() && kc::allocator_stats().device_mallocs > 0)
    throw std::logic_error("cuda_select_device: device " + std::to_string(index) +
                           " selected after CUDA memory was allocated on device " +
                           std::to_string(kc::current_device()) +
                           "; select it before any CUDA tensor is made");
  kc::set_device(index);
}
void cuda_synchronize() {
  kc::synchronize();
}
std::uint64_t cuda_host_waits() {
  return kc::host_waits();
}
void cuda_empty_cache() {
  kc::empty_cache();
}

}  // namespace flowtape
