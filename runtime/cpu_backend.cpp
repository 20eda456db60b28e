// SPDX-License-Identifier: MIT
// The cpu backend (backend.hpp): tensors to pointers and views, then kernels/cpu. The op codes
// become functor types here, so each (op, dtype) pair is its own instantiation of the SIMD map.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "flowtape/kernels/cpu/adam.hpp"
#include "flowtape/kernels/cpu/elementwise.hpp"
#include "flowtape/kernels/cpu/gemm.hpp"
#include "flowtape/kernels/cpu/index.hpp"
#include "flowtape/kernels/cpu/layout.hpp"
#include "flowtape/kernels/cpu/math.hpp"
#include "flowtape/kernels/cpu/reduce.hpp"
#include "flowtape/runtime/allocator.hpp"
#include "flowtape/runtime/backend.hpp"
#include "flowtape/runtime/random.hpp"
#include "flowtape/runtime/uniform_bounds.hpp"

namespace flowtape {
namespace {

namespace cpu = kernels::cpu;
namespace fn = kernels::cpu::fn;

struct Copy {
  template <class B>
  B operator()(const B& x) const {
    return x;
  }
};

template <class T, std::size_t N, class F>
void map_n(std::span<const Tensor> in, Tensor& out, F f) {
  std::array<const T*, N> p;
  std::array<const std::int64_t*, N> s;
  std::array<int, N> r;
  for (std::size_t k = 0; k < N; ++k) {
    p[k] = in[k].data<T>();
    s[k] = in[k].shape().data();
    r[k] = in[k].rank();
  }
  cpu::map_broadcast<T, N>(p, s, r, out.mutable_data<T>(), out.shape().data(), out.rank(), f);
}

// Sums x over its leading extra axes and over the axes where the target has extent 1.
template <class T>
void sum_to_kernel(const Tensor& x, const Shape& target, T* y) {
  const Shape& xs = x.shape();
  const int lead = xs.rank() - target.rank();
  std::vector<T> cur(x.data<T>(), x.data<T>() + x.numel()), next;
  Shape cur_shape;
  for (int d = lead; d < xs.rank(); ++d) cur_shape.push_back(xs[d]);
  if (lead > 0) {
    next.resize(static_cast<std::size_t>(cur_shape.numel()));
    cpu::sum_axis<T>(cur.data(), next.data(), {1, xs.numel(0, lead), cur_shape.numel()});
    cur.swap(next);
  }
  for (int d = 0; d < target.rank(); ++d) {
    if (target[d] != 1 || cur_shape[d] == 1) continue;
    const Shape reduced = cur_shape.reduced(d, true);
    next.resize(static_cast<std::size_t>(reduced.numel()));
    cpu::sum_axis<T>(
        cur.data(), next.data(),
        {cur_shape.numel(0, d), cur_shape[d], cur_shape.numel(d + 1, cur_shape.rank())});
    cur.swap(next);
    cur_shape = reduced;
  }
  std::copy(cur.begin(), cur.end(), y);
}

class CpuBackend final : public Backend {
 public:
  void* allocate(std::size_t bytes, std::size_t& capacity) override {
    // From the caching allocator: a training step reuses the previous step's buffers instead
    // of calling malloc (and faulting in fresh pages) for every op.
    return detail::cached_alloc(bytes, capacity);
  }
  void deallocate(void* ptr, std::size_t capacity) noexcept override {
    detail::cached_free(ptr, capacity);
  }
  void copy(void* dst, Device, const void* src, Device, std::size_t bytes) override {
    std::memcpy(dst, src, bytes);
  }

  void fill(Tensor& t, double value) override {
    if (value == 0.0 && !std::signbit(value)) {
      std::memset(t.mutable_raw_data(), 0, t.nbytes());
      return;
    }
    dispatch_any(t.dtype(), [&]<class T>() {
      T* p = t.mutable_data<T>();
      const T v = convert_element<T>(value, "fill");
      std::fill(p, p + t.numel(), v);
    });
  }
  void cast(const Tensor& x, Tensor& y) override {
    dispatch_any(x.dtype(), [&]<class S>() {
      dispatch_any(y.dtype(), [&]<class D>() {
        const S* s = x.data<S>();
        D* d = y.mutable_data<D>();
        // n read once: the stores through d could alias x's shape as far as the compiler
        // knows, so x.numel() in the condition would be recomputed every element.
        const std::int64_t n = x.numel();
        for (std::int64_t i = 0; i < n; ++i) d[i] = convert_element<D>(s[i], "to_dtype");
      });
    });
  }
  void fill_normal(Tensor& t, Generator& gen) override {
    dispatch(t.dtype(), [&]<class T>() { gen.fill_normal(t.mutable_data<T>(), t.numel()); });
  }
  void fill_uniform(Tensor& t, Generator& gen, double low, double high) override {
    dispatch(t.dtype(), [&]<class T>() {
      T* p = t.mutable_data<T>();
      gen.fill_uniform(p, t.numel());
      if (low == 0.0 && high == 1.0) return;
      const UniformBounds b = uniform_bounds<T>(low, high, dtype_name(t.dtype()));
      const T least = static_cast<T>(b.least), greatest = static_cast<T>(b.greatest);
      const auto clamped = [&](T v) { return v < least ? least : (v > greatest ? greatest : v); };
      const std::int64_t n = t.numel();  // read once: see cast()
      if (std::isfinite(high - low)) {
        for (std::int64_t i = 0; i < n; ++i)
          p[i] = clamped(static_cast<T>(low + (high - low) * static_cast<double>(p[i])));
      } else {  // a range wider than the largest double: halved, then doubled (both exact)
        const double half_low = low / 2, half_width = high / 2 - low / 2;
        for (std::int64_t i = 0; i < n; ++i)
          p[i] = clamped(static_cast<T>((half_low + half_width * static_cast<double>(p[i])) * 2));
      }
    });
  }

  void unary(UnaryOp op, const Tensor& x, Tensor& out, double scalar) override {
    dispatch(out.dtype(), [&]<class T>() {
      const auto map = [&](auto f) {
        cpu::map_unary(x.data<T>(), out.mutable_data<T>(), out.numel(), f);
      };
      switch (op) {
#define FLOWTAPE_UNARY_CASE(name, Functor) \
  case UnaryOp::name:                      \
    return map(fn::Functor{});
        FLOWTAPE_UNARY_OPS(FLOWTAPE_UNARY_CASE)
#undef FLOWTAPE_UNARY_CASE
        case UnaryOp::silu:
          return map(fn::Silu{});
        case UnaryOp::sign:
          return map(fn::Sign{});
        case UnaryOp::pow_scalar:
          return map(fn::PowScalar{scalar});
      }
    });
  }

  void nary(NaryOp op, std::span<const Tensor> in, Tensor& out) override {
    dispatch(out.dtype(), [&]<class T>() {
      switch (op) {
        case NaryOp::copy:
          return map_n<T, 1>(in, out, Copy{});
        case NaryOp::add:
          return map_n<T, 2>(in, out, fn::Add{});
        case NaryOp::sub:
          return map_n<T, 2>(in, out, fn::Sub{});
        case NaryOp::mul:
          return map_n<T, 2>(in, out, fn::Mul{});
        case NaryOp::div:
          return map_n<T, 2>(in, out, fn::Div{});
        case NaryOp::greater:
          return map_n<T, 2>(in, out, fn::Greater{});
        case NaryOp::less:
          return map_n<T, 2>(in, out, fn::Less{});
        case NaryOp::equal:
          return map_n<T, 2>(in, out, fn::Equal{});
        case NaryOp::silu_grad:
          return map_n<T, 2>(in, out, fn::SiluGrad{});
        case NaryOp::silu_grad2:
          return map_n<T, 2>(in, out, fn::SiluGrad2{});
        case NaryOp::where:
          return map_n<T, 3>(in, out, fn::Where{});
        case NaryOp::silu_grad_denominator:
          return map_n<T, 3>(in, out, fn::SiluGradFromDenominator{});
        case NaryOp::silu_grad2_denominator:
          return map_n<T, 3>(in, out, fn::SiluGrad2FromDenominator{});
      }
    });
  }

  void reduce(ReduceOp op, const Tensor& x, int axis, Tensor& out) override {
    const Shape& s = x.shape();
    const cpu::AxisView v{s.numel(0, axis), s[axis], s.numel(axis + 1, s.rank())};
    dispatch(out.dtype(), [&]<class T>() {
      const T* px = x.data<T>();
      T* py = out.mutable_data<T>();
      switch (op) {
        case ReduceOp::sum:
          return cpu::sum_axis<T>(px, py, v);
        case ReduceOp::max:
          return cpu::max_axis<T>(px, py, v);
        case ReduceOp::logsumexp:
          return cpu::logsumexp_axis<T>(px, py, v);
        case ReduceOp::softmax:
          return cpu::softmax_axis<T>(px, py, v);
      }
    });
  }

  void sum_to(const Tensor& x, Tensor& out) override {
    dispatch(out.dtype(),
             [&]<class T>() { sum_to_kernel<T>(x, out.shape(), out.mutable_data<T>()); });
  }

  void matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, std::int64_t batch,
              std::int64_t m, std::int64_t n, std::int64_t k, Tensor& out) override {
    const std::int64_t lda = a.size(-1), ldb = b.size(-1);
    dispatch(out.dtype(), [&]<class T>() {
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      T* c = out.mutable_data<T>();
      for (std::int64_t i = 0; i < batch; ++i)
        cpu::gemm<T>(ta, tb, m, n, k, T(1), pa + i * m * k, lda, pb + i * k * n, ldb, T(0),
                     c + i * m * n, n);
    });
  }

  // One GEMM that adds the bias row as it stores each tile (its bias epilogue).
  void linear(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out) override {
    const std::int64_t m = x.size(0), k = x.size(1), n = w.size(0);
    dispatch(out.dtype(), [&]<class T>() {
      cpu::gemm<T>(false, true, m, n, k, T(1), x.data<T>(), k, w.data<T>(), k, T(0),
                   out.mutable_data<T>(), n, b.data<T>());
    });
  }

  void permute(const Tensor& x, std::span<const std::int64_t> perm, Tensor& out) override {
    cpu::permute(x.raw_data(), out.mutable_raw_data(), dtype_size(out.dtype()), x.shape().span(),
                 perm);
  }
  void slice_axis(const Tensor& x, Tensor& out, std::int64_t outer, std::int64_t len,
                  std::int64_t inner, std::int64_t start, std::int64_t count) override {
    cpu::slice_axis(x.raw_data(), out.mutable_raw_data(), dtype_size(out.dtype()), outer, len,
                    inner, start, count);
  }
  void pad_axis(const Tensor& x, Tensor& out, std::int64_t outer, std::int64_t len,
                std::int64_t inner, std::int64_t start, std::int64_t count) override {
    cpu::pad_axis(x.raw_data(), out.mutable_raw_data(), dtype_size(out.dtype()), outer, len, inner,
                  start, count);
  }
  void concat_axis(std::span<const Tensor> parts, std::span<const std::int64_t> lens, Tensor& out,
                   std::int64_t outer, std::int64_t inner) override {
    // On the stack for the usual two or three parts, so the op makes no heap call.
    constexpr std::size_t kStack = 8;
    std::array<const void*, kStack> stack{};
    std::vector<const void*> heap(parts.size() > kStack ? parts.size() : 0);
    const std::span<const void*> p =
        heap.empty() ? std::span<const void*>(stack.data(), parts.size()) : std::span(heap);
    for (std::size_t i = 0; i < parts.size(); ++i) p[i] = parts[i].raw_data();
    cpu::concat_axis(p, lens, out.mutable_raw_data(), dtype_size(out.dtype()), outer, inner);
  }

  void gather(const Tensor& x, const Tensor& index, const IndexView& v, Tensor& out) override {
    dispatch(out.dtype(), [&]<class T>() {
      cpu::gather_axis<T>(x.data<T>(), index.data<std::int64_t>(), out.mutable_data<T>(), v);
    });
  }
  void scatter_add(const Tensor& src, const Tensor& index, const IndexView& v,
                   Tensor& out) override {
    dispatch(out.dtype(), [&]<class T>() {
      cpu::scatter_add_axis<T>(src.data<T>(), index.data<std::int64_t>(), out.mutable_data<T>(), v);
    });
  }

  void adam_update(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamStep& s) override {
    dispatch(p.dtype(), [&]<class T>() {
      // 1 - beta comes in double, then rounded: 1 - 0.999f is off by 5e-5 relative in float.
      const cpu::AdamCoefficients<T> k{
          static_cast<T>(s.b1),        static_cast<T>(s.b2),       static_cast<T>(s.c1),
          static_cast<T>(s.c2),        static_cast<T>(s.l2),       static_cast<T>(s.shrink),
          static_cast<T>(s.step_size), static_cast<T>(s.root_bc2), static_cast<T>(s.eps)};
      cpu::adam_update(p.mutable_data<T>(), g.data<T>(), m.mutable_data<T>(), v.mutable_data<T>(),
                       p.numel(), k);
    });
  }

  void sgd_update(Tensor& param, const Tensor& grad, Tensor* buffer, double lr_, double wd_,
                  double mu_, bool nesterov) override {
    dispatch(param.dtype(), [&]<class T>() {
      T* p = param.mutable_data<T>();
      const T* g = grad.data<T>();
      T* buf = buffer ? buffer->mutable_data<T>() : nullptr;
      const T lr = static_cast<T>(lr_), wd = static_cast<T>(wd_), mu = static_cast<T>(mu_);
      const std::int64_t n = param.numel();
      for (std::int64_t j = 0; j < n; ++j) {
        T d = g[j] + wd * p[j];
        if (buf) {
          buf[j] = mu * buf[j] + d;
          d = nesterov ? d + mu * buf[j] : buf[j];
        }
        p[j] -= lr * d;
      }
    });
  }

  void ema_update(Tensor& shadow, const Tensor& param, double decay) override {
    dispatch(param.dtype(), [&]<class T>() {
      T* s = shadow.mutable_data<T>();
      const T* p = param.data<T>();
      const T d = static_cast<T>(decay), c = static_cast<T>(1 - decay);
      const std::int64_t n = param.numel();  // read once: see cast()
      for (std::int64_t j = 0; j < n; ++j) s[j] = d * s[j] + c * p[j];
    });
  }

  Tensor sum_of_squares(const Tensor& x) override {
    double sq = 0;
    dispatch(x.dtype(),
             [&]<class T>() { sq = kernels::cpu::sum_of_squares(x.data<T>(), x.numel()); });
    Tensor out = empty(Shape{}, DType::f64);
    out.mutable_data<double>()[0] = sq;
    return out;
  }
};

}  // namespace

namespace detail {
Backend& cpu_backend() {
  static CpuBackend b;
  return b;
}
}  // namespace detail

}  // namespace flowtape
