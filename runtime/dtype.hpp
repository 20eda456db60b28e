// SPDX-License-Identifier: MIT
// Element types and devices a Tensor can have, and the dispatch from a runtime dtype to the
// C++ type a kernel is instantiated for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace flowtape {

// f32 and f64 are the floating-point dtypes, the only ones with arithmetic and derivatives.
// i64 holds indices (gather, index_select, argmax) and labels; boolean holds masks (the
// comparisons' results, where's condition), one byte per element. Integer and boolean tensors
// are never differentiated: an op's integer or boolean outputs get no tape slot or tangent.
enum class DType { f32, f64, i64, boolean };
enum class Device { cpu, cuda };

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
    case DType::i64:
      return "i64";
    case DType::boolean:
      return "bool";
  }
  return "?";
}
inline const char* device_name(Device d) {
  return d == Device::cpu ? "cpu" : "cuda";
}
inline std::ostream& operator<<(std::ostream& os, DType t) {
  return os << dtype_name(t);
}
inline std::ostream& operator<<(std::ostream& os, Device d) {
  return os << device_name(d);
}
inline std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::boolean:
      return 1;
    default:
      return 8;
  }
}
inline bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64;
}

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<std::int64_t>() {
  return DType::i64;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::boolean;
}

// Calls f.template operator()<T>() with T = float or double according to `t`, the
// floating-point dtypes that kernels with arithmetic are instantiated for:
//   dispatch(x.dtype(), [&]<class T>() { kernel<T>(x.data<T>(), ...); });
// Throws std::invalid_argument for an integer or boolean dtype.
template <class F>
decltype(auto) dispatch(DType t, F&& f) {
  if (t == DType::f32) return f.template operator()<float>();
  if (t != DType::f64)
    throw std::invalid_argument(
        std::string("flowtape: arithmetic needs a floating-point tensor, got ") + dtype_name(t) +
        " (convert with to_dtype)");
  return f.template operator()<double>();
}

// The same over every dtype: T = float, double, std::int64_t or bool (moves, casts, printing).
template <class F>
decltype(auto) dispatch_any(DType t, F&& f) {
  switch (t) {
    case DType::f32:
      return f.template operator()<float>();
    case DType::i64:
      return f.template operator()<std::int64_t>();
    case DType::boolean:
      return f.template operator()<bool>();
    default:
      return f.template operator()<double>();
  }
}

// One element converted to type D: to bool, v != 0; to i64 from a floating-point value, only
// a whole number in i64's range (no rounding or wrapping, which would hide the caller's
// mistake; throws std::invalid_argument naming `who`); otherwise static_cast.
template <class D, class S>
D convert_element(S v, const char* who) {
  if constexpr (std::is_same_v<D, bool>) {
    return v != S(0);
  } else if constexpr (std::is_same_v<D, std::int64_t> && std::is_floating_point_v<S>) {
    // 2^63 is exact in both float and double; [-2^63, 2^63) is i64's range.
    if (!(v >= S(-9223372036854775808.0) && v < S(9223372036854775808.0)) ||
        v != static_cast<S>(static_cast<std::int64_t>(v)))
      throw std::invalid_argument(std::string(who) + ": " + std::to_string(v) +
                                  " is not a whole number in i64's range");
    return static_cast<std::int64_t>(v);
  } else {
    return static_cast<D>(v);
  }
}

}  // namespace flowtape
