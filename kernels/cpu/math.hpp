// SPDX-License-Identifier: MIT
// Elementwise math as functors over xsimd batches. Each functor works on a batch; the kernels
// push tails through the same code (see simd.hpp), so results do not depend on alignment.
#pragma once

#include <utility>

#include "flowtape/kernels/cpu/simd.hpp"

namespace flowtape::kernels::cpu::fn {

struct Neg { template <class B> B operator()(const B& x) const { return -x; } };
struct Exp { template <class B> B operator()(const B& x) const { return xsimd::exp(x); } };
struct Log { template <class B> B operator()(const B& x) const { return xsimd::log(x); } };
// e^x - 1 and log(1 + x), accurate where x is tiny (no cancellation against 1).
struct Expm1 { template <class B> B operator()(const B& x) const { return xsimd::expm1(x); } };
struct Log1p { template <class B> B operator()(const B& x) const { return xsimd::log1p(x); } };
struct Sqrt { template <class B> B operator()(const B& x) const { return xsimd::sqrt(x); } };
struct Square { template <class B> B operator()(const B& x) const { return x * x; } };
struct Abs { template <class B> B operator()(const B& x) const { return xsimd::abs(x); } };
struct Tanh { template <class B> B operator()(const B& x) const { return xsimd::tanh(x); } };
struct Sin { template <class B> B operator()(const B& x) const { return xsimd::sin(x); } };
struct Cos { template <class B> B operator()(const B& x) const { return xsimd::cos(x); } };
struct Relu {
  template <class B> B operator()(const B& x) const { return xsimd::max(x, B(0)); }
};
// 1 / (1 + e^-x): e^-x overflows to inf for very negative x, and 1/inf = 0 is the right limit.
struct Sigmoid {
  template <class B> B operator()(const B& x) const { return B(1) / (B(1) + xsimd::exp(-x)); }
};
struct Silu {
  template <class B> B operator()(const B& x) const { return x / (B(1) + xsimd::exp(-x)); }
};
// silu(x) and its denominator d = 1 + e^-x, which the derivatives below reuse: the same
// operations as Silu, so the same bits.
struct SiluAndDenominator {
  template <class B> std::pair<B, B> operator()(const B& x) const {
    const B d = B(1) + xsimd::exp(-x);
    return {x / d, d};
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
    return SiluGradFromDenominator{}(x, g, B(1) + xsimd::exp(-x));
  }
};
struct SiluGrad2 {
  template <class B> B operator()(const B& x, const B& g) const {
    return SiluGrad2FromDenominator{}(x, g, B(1) + xsimd::exp(-x));
  }
};
// log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never overflows.
struct Softplus {
  template <class B> B operator()(const B& x) const {
    return xsimd::max(x, B(0)) + xsimd::log1p(xsimd::exp(-xsimd::abs(x)));
  }
};
// sign(0) = 0, matching the subgradient convention of abs' derivative.
struct Sign {
  template <class B> B operator()(const B& x) const {
    return xsimd::select(x > B(0), B(1), xsimd::select(x < B(0), B(-1), B(0)));
  }
};
struct PowScalar {
  double p;
  template <class B> B operator()(const B& x) const {
    return xsimd::pow(x, B(static_cast<typename B::value_type>(p)));
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
