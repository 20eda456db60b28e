// SPDX-License-Identifier: MIT
// What the CPU flowtape runs on is: its vendor, family and model (CPUID) and the vector
// instructions the kernels may choose between. The GEMM picks its tile kernel from this
// (gemm_kernels.hpp), and the benchmarks print it beside every number.
#pragma once

#include <string>

namespace flowtape::kernels::cpu {

struct CpuInfo {
  std::string vendor;  // "AuthenticAMD", "GenuineIntel", ...; "unknown" off x86
  int family = 0;      // CPUID's display family and model (base plus extended)
  int model = 0;
  bool avx2_fma = false;          // AVX2 and FMA3, usable (the OS saves the registers)
  bool avx512f = false;           // AVX-512 Foundation, usable
  std::string microarchitecture;  // "Zen 5", "Zen 4", ...; empty when not recognised

  bool amd() const { return vendor == "AuthenticAMD"; }
  bool intel() const { return vendor == "GenuineIntel"; }
  // One line for logs and benchmark tables: "AMD family 26 model 2 (Zen 5), AVX-512".
  std::string describe() const;
};

// The CPU of this process, read once.
const CpuInfo& cpu_info();

}  // namespace flowtape::kernels::cpu
