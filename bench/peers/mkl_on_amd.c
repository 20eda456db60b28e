// SPDX-License-Identifier: MIT
// The PyTorch peers' best configuration on an AMD CPU with AVX-512. The MKL inside the x86
// PyTorch wheels asks mkl_serv_intel_cpu_true() whether the CPU is Intel's and, where it is
// not, runs its AVX2 kernels (MKL_ENABLE_INSTRUCTIONS=AVX512 alone does not change that).
// Preloaded (LD_PRELOAD) with MKL_ENABLE_INSTRUCTIONS=AVX512, this answer makes it take its
// AVX-512 kernels, which this CPU runs: on the Zen 5 of docs/performance.md a [1024, 256] x
// [256, 256] f32 product went from 90 to 249 GFLOP/s on one core (2026-12-07). The answers
// only choose code paths; the results are MKL's own. bench/compare.sh builds and uses this
// on AMD CPUs with AVX-512 only.
int mkl_serv_intel_cpu_true(void) {
  return 1;
}
int mkl_serv_intel_cpu(void) {
  return 1;
}
