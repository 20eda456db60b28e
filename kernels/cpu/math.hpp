// SPDX-License-Identifier: MIT
// Elementwise math as functors over xsimd batches. Each functor works on a batch; the kernels
// push tails through the same code (see simd.hpp), so results do not depend on alignment.
#pragma once

#include <cmath>
#include <limits>
#include <utility>

#include "flowtape/kernels/cpu/simd.hpp"

namespace flowtape::kernels::cpu::fn {

struct Neg { template <class B> B operator()(const B& x) const { return -x; } };
// e^x over IEEE's whole range. xsimd's exp overflows a little early (f64 at 709.44 instead of
// 709.78, f32 at 88.38 instead of 88.72) and flushes results below the smallest normal number
// to zero. Lanes past where it is exact (rare: a branch on any() keeps the common case one
// exp) are recomputed as e^(x/2) squared: x/2 is exact and in range, and the square rounds
// once, into the top of the range or gradually into the subnormals.
struct Exp {
  template <class B>
  B operator()(const B& x) const {
    using T = typename B::value_type;
    constexpr T hi = sizeof(T) == 8 ? T(709) : T(88);    // xsimd's exp is exact below ...
    constexpr T lo = sizeof(T) == 8 ? T(-708) : T(-87);  // ... and above these
    const B r = xsimd::exp(x);
    const auto outside = (x > B(hi)) | (x < B(lo));
    if (!xsimd::any(outside)) return r;
    const B half = xsimd::exp(x * B(T(0.5)));
    return xsimd::select(outside, half * half, r);
  }
};
// log x, subnormal x included: xsimd's log reads a subnormal's exponent as the smallest one
// (f64 log(1e-310) came out -746.5 instead of -713.8), so such lanes are scaled into the normal
// range first, log(x 2^k) - k log 2, with k = 54 (f64) or 25 (f32).
struct Log {
  template <class B>
  B operator()(const B& x) const {
    using T = typename B::value_type;
    const B r = xsimd::log(x);
    const auto subnormal = (x > B(T(0))) & (x < B(std::numeric_limits<T>::min()));
    if (!xsimd::any(subnormal)) return r;
    constexpr int k = sizeof(T) == 8 ? 54 : 25;
    const B scaled = xsimd::log(x * B(std::ldexp(T(1), k))) - B(T(k) * std::log(T(2)));
    return xsimd::select(subnormal, scaled, r);
  }
};
// e^x - 1 and log(1 + x), accurate where x is tiny (no cancellation against 1). xsimd's
// expm1 overflows where its exp does (above 88.38 in f32, 709.44 in f64): there e^x - 1 is
// e^x to the last bit, which Exp gives. Both keep a zero's sign, as IEEE's do (xsimd's
// return +0 for -0).
struct Expm1 {
  template <class B>
  B operator()(const B& x) const {
    using T = typename B::value_type;
    constexpr T hi = sizeof(T) == 8 ? T(709) : T(88);
    const B r = xsimd::select(x == B(T(0)), x, xsimd::expm1(x));
    const auto high = x > B(hi);
    if (!xsimd::any(high)) return r;
    return xsimd::select(high, Exp{}(x), r);
  }
};
struct Log1p {
  template <class B>
  B operator()(const B& x) const {
    return xsimd::select(x == B(typename B::value_type(0)), x, xsimd::log1p(x));
  }
};
struct Sqrt { template <class B> B operator()(const B& x) const { return xsimd::sqrt(x); } };
struct Square { template <class B> B operator()(const B& x) const { return x * x; } };
struct Abs { template <class B> B operator()(const B& x) const { return xsimd::abs(x); } };
struct Tanh { template <class B> B operator()(const B& x) const { return xsimd::tanh(x); } };
// sin and cos: xsimd picks one range reduction for a whole batch, by its largest lane (past
// pi/4, pi/2, 20 pi, ...), so an element's last bit can depend on its neighbours in the batch
// (and so on where a slice starts). Not on the thread count: chunks start at multiples of 64.
// The only functors here with that property; doing the reduction per lane cost a scalar sin
// per element, a third of a small step with a sinusoidal time embedding.
struct Sin { template <class B> B operator()(const B& x) const { return xsimd::sin(x); } };
struct Cos { template <class B> B operator()(const B& x) const { return xsimd::cos(x); } };
// max(x, 0) that keeps a NaN a NaN (as IEEE fmax would not, and xsimd::max need not).
struct Relu {
  template <class B>
  B operator()(const B& x) const {
    return xsimd::select((x > B(0)) | xsimd::isnan(x), x, B(0));
  }
};
// 1 / (1 + e^-x): e^-x (Exp: over the whole range, so a tiny sigmoid is not flushed early)
// overflows to inf for very negative x, and 1/inf = 0 is the right limit.
struct Sigmoid {
  template <class B>
  B operator()(const B& x) const {
    return B(1) / (B(1) + Exp{}(-x));
  }
};
// silu(x) = x sigmoid(x), as x times the reciprocal of 1 + e^-x rather than x / (1 + e^-x): the
// derivatives below need the reciprocal too, so a fused pass (silu_fused.hpp) divides once per
// element instead of twice (1.02x an FDM step at width 64, batch 256, Zen 5).
struct Silu {
  template <class B>
  B operator()(const B& x) const {
    return x * (B(1) / (B(1) + Exp{}(-x)));
  }
};
// silu(x) and its denominator d = 1 + e^-x, which the derivatives below reuse: the same
// operations as Silu, so the same bits.
struct SiluAndDenominator {
  template <class B> std::pair<B, B> operator()(const B& x) const {
    const B d = B(1) + Exp{}(-x);
    return {x * (B(1) / d), d};
  }
};
// g silu'(x) = g s (1 + x (1 - s)) and g silu''(x) = g s (1 - s) (2 + x (1 - 2 s)),
// s = sigmoid(x) = 1 / d. The *FromDenominator forms take d from silu's forward instead of
// recomputing the exp, and give the same bits.
struct SiluGradFromDenominator {
  template <class B> B operator()(const B& x, const B& g, const B& d) const {
    const B s = B(1) / d;
    return g * s * (B(1) + x * (B(1) - s));
  }
};
struct SiluGrad2FromDenominator {
  template <class B> B operator()(const B& x, const B& g, const B& d) const {
    const B s = B(1) / d;
    return g * s * (B(1) - s) * (B(2) + x * (B(1) - B(2) * s));
  }
};
struct SiluGrad {
  template <class B> B operator()(const B& x, const B& g) const {
    return SiluGradFromDenominator{}(x, g, B(1) + Exp{}(-x));
  }
};
struct SiluGrad2 {
  template <class B> B operator()(const B& x, const B& g) const {
    return SiluGrad2FromDenominator{}(x, g, B(1) + Exp{}(-x));
  }
};
// log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never overflows.
struct Softplus {
  template <class B> B operator()(const B& x) const {
    return xsimd::max(x, B(0)) + xsimd::log1p(xsimd::exp(-xsimd::abs(x)));
  }
};
// sign(0) = 0, matching the subgradient convention of abs' derivative; sign(NaN) = NaN, as
// NumPy's, so abs' derivative at a NaN carries it instead of hiding it as 0.
struct Sign {
  template <class B> B operator()(const B& x) const {
    return xsimd::select(x > B(0), B(1),
                         xsimd::select(x < B(0), B(-1), xsimd::select(xsimd::isnan(x), x, B(0))));
  }
};
// x^p: each lane by std::pow, so IEEE's special cases hold ((-0)^3 = -0, (-inf)^0.5 = inf,
// 1^NaN = 1, 0^p = inf for p < 0, so d/dx x^0.5 at 0 is inf as on the GPU and in PyTorch)
// and the result is within an ulp. xsimd's pow, e^(p log x), lost hundreds of ulps at large
// x (1e100^3) and several of those cases; flowtape's own code does not call pow in a step.
struct PowScalar {
  double p;
  template <class B> B operator()(const B& x) const {
    using T = typename B::value_type;
    alignas(64) T v[B::size];
    x.store_aligned(v);
    for (auto& e : v) e = static_cast<T>(std::pow(e, static_cast<T>(p)));
    return B::load_aligned(v);
  }
};

struct Add { template <class B> B operator()(const B& a, const B& b) const { return a + b; } };
struct Sub { template <class B> B operator()(const B& a, const B& b) const { return a - b; } };
struct Mul { template <class B> B operator()(const B& a, const B& b) const { return a * b; } };
struct Div { template <class B> B operator()(const B& a, const B& b) const { return a / b; } };
// Comparisons produce 1 or 0 in the operands' own type (flowtape has no bool dtype).
struct Greater {
  template <class B> B operator()(const B& a, const B& b) const {
    return xsimd::select(a > b, B(1), B(0));
  }
};
struct Less {
  template <class B> B operator()(const B& a, const B& b) const {
    return xsimd::select(a < b, B(1), B(0));
  }
};
struct Equal {
  template <class B> B operator()(const B& a, const B& b) const {
    return xsimd::select(a == b, B(1), B(0));
  }
};
struct Where {
  template <class B> B operator()(const B& c, const B& a, const B& b) const {
    return xsimd::select(c != B(0), a, b);
  }
};

}  // namespace flowtape::kernels::cpu::fn
