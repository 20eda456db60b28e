// SPDX-License-Identifier: MIT
// Element types and devices a Tensor can have, and the dispatch from a runtime dtype to the
// C++ type a kernel is instantiated for.
#pragma once

#include <cstddef>
#include <ostream>
#include <stdexcept>
#include <string>

namespace flowtape {

enum class DType { f32, f64 };
enum class Device { cpu, cuda };

inline const char* dtype_name(DType t) {
  return t == DType::f32 ? "f32" : "f64";
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
  return t == DType::f32 ? 4 : 8;
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

// Calls f.template operator()<T>() with T = float or double according to `t`:
//   dispatch(x.dtype(), [&]<class T>() { kernel<T>(x.data<T>(), ...); });
template <class F>
decltype(auto) dispatch(DType t, F&& f) {
  if (t == DType::f32) return f.template operator()<float>();
  return f.template operator()<double>();
}

}  // namespace flowtape
