// SPDX-License-Identifier: MIT
// The unary elementwise ops with the standard rules, one row each: X(name, CpuFunctor). Each
// row becomes the CUDA op code and its kernel (kernels/cuda/elementwise.*), and autodiff's
// primitive, its declaration and its entry function (autodiff/ops_elementwise.cpp, ops.hpp),
// whose rules multiply by the derivative d_<name> written in ops_elementwise.cpp. The CPU
// functor is kernels::cpu::fn::<CpuFunctor> (kernels/cpu/math.hpp). Adding a row means
// writing those three functions: the CPU math, the device math and the derivative.
//
// Plain preprocessor text, so that both the C++ and the CUDA sources can expand it.
#pragma once

#define FLOWTAPE_UNARY_OPS(X)                                                        \
  X(neg, Neg)     /* -x */                                                           \
  X(exp, Exp)     /* overflows to inf only above log(max); subnormal results kept */ \
  X(log, Log)     /* subnormal inputs included */                                    \
  X(expm1, Expm1) /* e^x - 1, accurate near 0 */                                     \
  X(log1p, Log1p) /* log(1 + x), accurate near 0 */                                  \
  X(sqrt, Sqrt)                                                                      \
  X(square, Square)                                                                  \
  X(abs, Abs) /* derivative sign(x): 0 at 0 */                                       \
  X(tanh, Tanh)                                                                      \
  X(sigmoid, Sigmoid)   /* 1 / (1 + e^-x) */                                         \
  X(relu, Relu)         /* max(x, 0), NaN stays NaN; derivative 0 at 0 */            \
  X(softplus, Softplus) /* log(1 + e^x), never overflows */                          \
  X(sin, Sin)                                                                        \
  X(cos, Cos)
