// SPDX-License-Identifier: MIT
// cuda_backend with CUDA (see cuda_backend.hpp): tensors to pointers, then kernels/cuda.
// Nothing here synchronises except copies to the host.
#include "flowtape/autodiff/cuda_backend.hpp"

#include <stdexcept>

#include "flowtape/autodiff/random.hpp"
#include "flowtape/kernels/cuda/allocator.hpp"
#include "flowtape/kernels/cuda/gemm.hpp"
#include "flowtape/kernels/cuda/layout.hpp"
#include "flowtape/kernels/cuda/optim.hpp"
#include "flowtape/kernels/cuda/random.hpp"
#include "flowtape/kernels/cuda/runtime.hpp"

namespace flowtape::cuda_backend {

namespace kc = kernels::cuda;

namespace {

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

std::int64_t prod(const Shape& s, int from, int to) {
  std::int64_t p = 1;
  for (int d = from; d < to; ++d) p *= s[d];
  return p;
}

std::size_t nbytes(const Tensor& t) {
  return static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
}

}  // namespace

bool built() {
  return true;
}
int device_count() {
  return kc::device_count();
}
void* device_alloc(std::size_t bytes) {
  return kc::device_malloc(bytes);
}
void device_free(void* p, std::size_t bytes) noexcept {
  kc::device_free(p, bytes);
}
void empty_cache() {
  kc::empty_cache();
}
std::uint64_t host_waits() {
  return kc::host_waits();
}

void synchronize() {
  kc::synchronize();
}

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t bytes) {
  if (dst_dev == Device::cuda && src_dev == Device::cuda)
    kc::copy_device_to_device(dst, src, bytes);
  else if (dst_dev == Device::cuda)
    kc::copy_host_to_device(dst, src, bytes);
  else if (src_dev == Device::cuda)
    kc::copy_device_to_host(dst, src, bytes);
  else
    throw std::logic_error("cuda_backend::copy_bytes: host to host copy");
}

void fill(Tensor& t, double value) {
  dispatch(t.dtype(), [&]<class T>() { kc::fill<T>(out_ptr<T>(t), t.numel(), static_cast<T>(value)); });
}

void zero(Tensor& t) {
  kc::zero_device(t.mutable_raw_data(), nbytes(t));
}

void cast(const Tensor& x, Tensor& y) {
  if (x.dtype() == y.dtype())
    return kc::copy_device_to_device(y.mutable_raw_data(), x.raw_data(), nbytes(x));
  if (x.dtype() == DType::f32)
    kc::cast<float, double>(in_ptr<float>(x), out_ptr<double>(y), x.numel());
  else
    kc::cast<double, float>(in_ptr<double>(x), out_ptr<float>(y), x.numel());
}

// The device kernels start at gen's counter; gen then skips the blocks they used, exactly as
// Generator::fill_* would have advanced it.
void fill_normal(Tensor& t, Generator& gen) {
  dispatch(t.dtype(), [&]<class T>() {
    kc::philox_normal<T>(out_ptr<T>(t), t.numel(), gen.key(), gen.counter(), gen.stream());
  });
  gen = Generator::from_state(gen.key(), gen.counter() + kc::philox_blocks_pairs(t.numel()),
                              gen.stream());
}

void fill_uniform(Tensor& t, Generator& gen) {
  dispatch(t.dtype(), [&]<class T>() {
    kc::philox_uniform<T>(out_ptr<T>(t), t.numel(), gen.key(), gen.counter(), gen.stream());
  });
  const std::uint64_t blocks = t.dtype() == DType::f32 ? kc::philox_blocks_uniform_f32(t.numel())
                                                       : kc::philox_blocks_pairs(t.numel());
  gen = Generator::from_state(gen.key(), gen.counter() + blocks, gen.stream());
}

void unary(Unary op, const Tensor& x, Tensor& out, double scalar) {
  dispatch(out.dtype(),
           [&]<class T>() { kc::unary<T>(op, in_ptr<T>(x), out_ptr<T>(out), out.numel(), scalar); });
}

namespace {
template <std::size_t N>
void nary_n(Nary op, Inputs in, Tensor& out) {
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
}  // namespace

void nary(Nary op, Inputs in, Tensor& out) {
  switch (in.size()) {
    case 1:
      return nary_n<1>(op, in, out);
    case 2:
      return nary_n<2>(op, in, out);
    case 3:
      return nary_n<3>(op, in, out);
    default:
      throw std::invalid_argument("cuda_backend::nary: 1, 2 or 3 inputs");
  }
}

void reduce(Reduce op, const Tensor& x, int axis, Tensor& out) {
  const Shape& s = x.shape();
  dispatch(out.dtype(), [&]<class T>() {
    kc::reduce_axis<T>(op, in_ptr<T>(x), out_ptr<T>(out), prod(s, 0, axis), s[axis],
                       prod(s, axis + 1, s.rank()));
  });
}

// As the CPU kernel: sum the leading extra axes in one pass, then each axis where the target
// has extent 1, through device temporaries from the caching allocator.
void sum_to(const Tensor& x, Tensor& out) {
  const Shape& xs = x.shape();
  const Shape& target = out.shape();
  const int lead = xs.rank() - target.rank();
  Tensor cur = x;
  Shape cur_shape;
  for (int d = lead; d < xs.rank(); ++d) cur_shape.push_back(xs[d]);
  dispatch(out.dtype(), [&]<class T>() {
    if (lead > 0) {
      Tensor next = empty(cur_shape, x.dtype(), Device::cuda);
      kc::reduce_axis<T>(Reduce::sum, in_ptr<T>(cur), out_ptr<T>(next), 1, prod(xs, 0, lead),
                         cur_shape.numel());
      cur = next;
    }
    for (int d = 0; d < target.rank(); ++d) {
      if (target[d] != 1 || cur_shape[d] == 1) continue;
      const Shape reduced = cur_shape.reduced(d, true);
      Tensor next = empty(reduced, x.dtype(), Device::cuda);
      kc::reduce_axis<T>(Reduce::sum, in_ptr<T>(cur), out_ptr<T>(next), prod(cur_shape, 0, d),
                         cur_shape[d], prod(cur_shape, d + 1, cur_shape.rank()));
      cur = next;
      cur_shape = reduced;
    }
  });
  kc::copy_device_to_device(out.mutable_raw_data(), cur.raw_data(), nbytes(out));
}

void matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, std::int64_t batch, std::int64_t m,
            std::int64_t n, std::int64_t k, Tensor& out) {
  const std::int64_t lda = a.size(-1), ldb = b.size(-1);
  dispatch(out.dtype(), [&]<class T>() {
    kc::gemm<T>(ta, tb, m, n, k, T(1), in_ptr<T>(a), lda, m * k, in_ptr<T>(b), ldb, k * n, T(0),
                out_ptr<T>(out), n, m * n, batch);
  });
}

void linear(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out) {
  const std::int64_t m = x.size(0), k = x.size(1), n = w.size(0);
  dispatch(out.dtype(), [&]<class T>() {
    if (kc::gemm_bias<T>(m, n, k, in_ptr<T>(x), in_ptr<T>(w), in_ptr<T>(b), out_ptr<T>(out))) return;
    // Unsupported by cuBLASLt (or k = 0): every row of out = b, then the GEMM accumulates.
    nary_n<1>(Nary::copy, Inputs(&b, 1), out);
    kc::gemm<T>(false, true, m, n, k, T(1), in_ptr<T>(x), k, m * k, in_ptr<T>(w), k, n * k, T(1),
                out_ptr<T>(out), n, m * n, 1);
  });
}

void permute(const Tensor& x, std::span<const std::int64_t> perm, Tensor& out) {
  kc::permute(x.raw_data(), out.mutable_raw_data(), dtype_size(out.dtype()), x.shape().span(),
              perm);
}

void slice_axis(const Tensor& x, Tensor& out, std::int64_t outer, std::int64_t len,
                std::int64_t inner, std::int64_t start, std::int64_t count) {
  kc::slice_axis(x.raw_data(), out.mutable_raw_data(), dtype_size(out.dtype()), outer, len, inner,
                 start, count);
}

void pad_axis(const Tensor& x, Tensor& out, std::int64_t outer, std::int64_t len,
              std::int64_t inner, std::int64_t start, std::int64_t count) {
  kc::pad_axis(x.raw_data(), out.mutable_raw_data(), dtype_size(out.dtype()), outer, len, inner,
               start, count);
}

void concat_axis(Inputs parts, std::span<const std::int64_t> lens, Tensor& out, std::int64_t outer,
                 std::int64_t inner) {
  std::vector<const void*> p;
  for (const Tensor& t : parts) p.push_back(t.raw_data());
  kc::concat_axis(p, lens, out.mutable_raw_data(), dtype_size(out.dtype()), outer, inner);
}

void adam_update(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamArgs& a) {
  dispatch(p.dtype(), [&]<class T>() {
    const kc::AdamScalars<T> s{
        static_cast<T>(a.b1),        static_cast<T>(a.b2),       static_cast<T>(a.c1),
        static_cast<T>(a.c2),        static_cast<T>(a.l2),       static_cast<T>(a.shrink),
        static_cast<T>(a.step_size), static_cast<T>(a.root_bc2), static_cast<T>(a.eps)};
    kc::adam_update<T>(out_ptr<T>(p), in_ptr<T>(g), out_ptr<T>(m), out_ptr<T>(v), p.numel(), s);
  });
}

void sgd_update(Tensor& p, const Tensor& g, Tensor* buf, double lr, double wd, double mu,
                bool nesterov) {
  dispatch(p.dtype(), [&]<class T>() {
    kc::sgd_update<T>(out_ptr<T>(p), in_ptr<T>(g), buf ? out_ptr<T>(*buf) : nullptr, p.numel(),
                      static_cast<T>(lr), static_cast<T>(wd), static_cast<T>(mu), nesterov);
  });
}

}  // namespace flowtape::cuda_backend
