// SPDX-License-Identifier: MIT
// CPUID, read once: vendor, family, model, and whether AVX2 + FMA and AVX-512 may be used.
#include "flowtape/kernels/cpu/cpu_info.hpp"

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace flowtape::kernels::cpu {
namespace {

// The family names of the AMD parts the project's machines have been; others stay unnamed
// (the tile choice then follows the instruction set alone).
std::string amd_microarchitecture(int family, bool avx512f) {
  if (family == 0x17) return "Zen, Zen+ or Zen 2";
  if (family == 0x19) return avx512f ? "Zen 4" : "Zen 3";  // Zen 3 has no AVX-512
  if (family == 0x1A) return "Zen 5";
  return "";
}

CpuInfo read_cpu() {
  CpuInfo info;
  info.vendor = "unknown";
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0, &eax, &ebx, &ecx, &edx)) {
    char vendor[13] = {};
    std::memcpy(vendor, &ebx, 4);
    std::memcpy(vendor + 4, &edx, 4);
    std::memcpy(vendor + 8, &ecx, 4);
    info.vendor = vendor;
  }
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
    const int base_family = static_cast<int>((eax >> 8) & 0xF);
    const int base_model = static_cast<int>((eax >> 4) & 0xF);
    const int ext_family = static_cast<int>((eax >> 20) & 0xFF);
    const int ext_model = static_cast<int>((eax >> 16) & 0xF);
    info.family = base_family == 0xF ? base_family + ext_family : base_family;
    info.model =
        base_family == 0xF || base_family == 0x6 ? (ext_model << 4) + base_model : base_model;
  }
  // __builtin_cpu_supports also checks that the OS saves the wider registers (XGETBV).
  __builtin_cpu_init();
  info.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  info.avx512f = __builtin_cpu_supports("avx512f");
  if (info.amd()) info.microarchitecture = amd_microarchitecture(info.family, info.avx512f);
#endif
  return info;
}

}  // namespace

std::string CpuInfo::describe() const {
  std::string s = vendor == "AuthenticAMD" ? "AMD" : vendor == "GenuineIntel" ? "Intel" : vendor;
  s += " family " + std::to_string(family) + " model " + std::to_string(model);
  if (!microarchitecture.empty()) s += " (" + microarchitecture + ")";
  s += avx512f ? ", AVX-512" : avx2_fma ? ", AVX2" : "";
  return s;
}

const CpuInfo& cpu_info() {
  static const CpuInfo info = read_cpu();
  return info;
}

}  // namespace flowtape::kernels::cpu
