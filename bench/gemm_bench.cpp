// SPDX-License-Identifier: MIT
// GEMM throughput: flowtape's packed GEMM against OpenBLAS, single thread, in the same process,
// all measured in alternating rounds so that a change in machine load hits each alike. Prints
// the CPU, the tile kernel the GEMM chose for it (gemm_kernels.hpp), OpenBLAS's kernel, this
// core's f32 / f64 FMA peak (measured) and each GEMM's share of it, then three tables:
//  - square C = A B, and the transposed forms a backward pass uses (A^T B, A B^T) at 512;
//  - the GEMMs of one W x W layer of a training step at batch B: forward x w^T (with the
//    bias row), the input gradient g w and the weight gradient g^T x;
//  - the GEMMs of the step's first and last layers (3 inputs, 2 outputs), which take the
//    thin kernels.
// Usage: gemm_bench [--kernels] [sizes...]
//          sizes: square GEMMs only, of these sizes (default 64 128 256 512 1024, and the
//          step's shapes: W in {64, 256}, B in {256, 1024, 4096});
//          --kernels: every tile kernel this CPU runs, side by side (default: the chosen one)
//        gemm_bench --peak   (prints only the f32 FMA peak in GFLOP/s: bench/compare.sh uses
//                             it for the ceiling column)
// Exit codes: 0 done, 2 bad arguments.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "bench/timing.hpp"
#include "flowtape/kernels/cpu/cpu_info.hpp"
#include "flowtape/kernels/cpu/gemm.hpp"
#include "flowtape/kernels/cpu/gemm_kernels.hpp"
#include "flowtape/kernels/cpu/simd.hpp"

extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_corename(void);

namespace {

using Clock = std::chrono::steady_clock;

// One way to compute a GEMM: `select` runs before each timed block (it picks a tile kernel,
// outside the timing), `call` is what is timed.
struct Contender {
  std::function<void()> select, call;
};

// Operands on 64-byte boundaries, as flowtape's tensors (runtime/allocator.cpp) and
// PyTorch's are. std::vector's 16-byte alignment split vector loads across two cache lines,
// a layout neither library meets in a training step; it made flowtape's thin dot-product
// kernel (h w^T at width 256) 1.3x slower (Zen 5).
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(std::size_t count) {
    return static_cast<T*>(::operator new(count * sizeof(T), std::align_val_t(64)));
  }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(64)); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const {
    return true;
  }
};
template <class T>
using Buffer = std::vector<T, CacheLineAllocator<T>>;

// Median seconds per call of each contender, timed in alternating rounds.
std::vector<double> alternate(const std::vector<Contender>& cs, int rounds = 7,
                              double seconds = 0.06) {
  for (const Contender& c : cs) {
    c.select();
    c.call();
  }
  std::vector<std::vector<double>> times(cs.size());
  for (int r = 0; r < rounds; ++r)
    for (std::size_t i = 0; i < cs.size(); ++i) {
      cs[i].select();
      times[i].push_back(flowtape::bench::seconds_per_call(cs[i].call, seconds));
    }
  std::vector<double> medians;
  for (auto& t : times) {
    std::sort(t.begin(), t.end());
    medians.push_back(t[t.size() / 2]);
  }
  return medians;
}

// The tile kernels timed: the one the GEMM chose, or (--kernels) every one this CPU runs.
std::vector<std::string> g_kernels;

// FLOP/s of independent FMA chains in registers: the arithmetic peak of one core for T, the
// ceiling any GEMM on it can reach. Ten chains cover the FMA latency (4-5 cycles) times the
// two FMA pipes.
template <class T>
// Not inlined: inlined into main, GCC kept the f64 chains in memory, and the loop ran at a
// third of the peak, bound by forwarding each store to the next load.
[[gnu::noinline]] double fma_peak() {
  using B = flowtape::kernels::cpu::Batch<T>;
  constexpr int kChains = 10;
  B acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = B(T(1) + T(j) * T(1e-3));
  const B m(T(0.999999)), c(T(1e-7));
  const long iters = 20'000'000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto start = Clock::now();
    for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 10
      for (int j = 0; j < kChains; ++j) acc[j] = flowtape::kernels::cpu::fmadd(acc[j], m, c);
    }
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::max(best, 2.0 * B::size * kChains * static_cast<double>(iters) / s);
  }
  B sum = acc[0];
  for (int j = 1; j < kChains; ++j) sum += acc[j];
  if (sum.get(0) == T(-1)) std::printf(" ");  // keeps the chains live
  return best;
}

struct Shape {
  std::string name;
  bool ta, tb;
  int m, n, k;
  bool bias;  // the forward of an affine layer adds a bias row
};

template <class T>
void run(const char* type, const Shape& s, double peak) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> d(-1, 1);
  Buffer<T> a(static_cast<std::size_t>(s.m) * s.k), b(static_cast<std::size_t>(s.k) * s.n),
      c(static_cast<std::size_t>(s.m) * s.n), bias(static_cast<std::size_t>(s.n));
  for (auto& v : a) v = static_cast<T>(d(rng));
  for (auto& v : b) v = static_cast<T>(d(rng));
  for (auto& v : bias) v = static_cast<T>(d(rng));
  const int lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
  const auto op_a = s.ta ? CblasTrans : CblasNoTrans, op_b = s.tb ? CblasTrans : CblasNoTrans;
  const auto ours = [&] {
    flowtape::kernels::cpu::gemm<T>(s.ta, s.tb, s.m, s.n, s.k, T(1), a.data(), lda, b.data(), ldb,
                                    T(0), c.data(), s.n, s.bias ? bias.data() : nullptr);
  };
  // OpenBLAS has no bias epilogue: C is filled with the bias rows, then beta = 1, which is
  // what a framework calling it does (PyTorch's addmm).
  const auto blas = [&] {
    T beta = T(0);
    if (s.bias) {
      for (int i = 0; i < s.m; ++i) std::copy(bias.begin(), bias.end(), c.begin() + i * s.n);
      beta = T(1);
    }
    if constexpr (sizeof(T) == 4)
      cblas_sgemm(CblasRowMajor, op_a, op_b, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb,
                  beta, c.data(), s.n);
    else
      cblas_dgemm(CblasRowMajor, op_a, op_b, s.m, s.n, s.k, 1.0, a.data(), lda, b.data(), ldb, beta,
                  c.data(), s.n);
  };
  std::vector<Contender> contenders;
  for (const std::string& kernel : g_kernels)
    contenders.push_back({[kernel] { flowtape::kernels::cpu::set_tile_kernel(kernel); }, ours});
  contenders.push_back({[] {}, blas});
  const std::vector<double> t = alternate(contenders);
  const double flops = 2.0 * s.m * s.n * static_cast<double>(s.k), t_blas = t.back();
  std::printf("| %s | %-27s | %5d | %5d | %5d |", type, s.name.c_str(), s.m, s.n, s.k);
  for (std::size_t i = 0; i + 1 < t.size(); ++i) std::printf(" %7.1f |", flops / t[i] * 1e-9);
  std::printf(" %7.1f |", flops / t_blas * 1e-9);
  for (std::size_t i = 0; i + 1 < t.size(); ++i)
    std::printf(" %4.0f%% |", 100 * flops / t[i] / peak);
  std::printf(" %4.0f%% |", 100 * flops / t_blas / peak);
  for (std::size_t i = 0; i + 1 < t.size(); ++i) std::printf(" %5.2f |", t_blas / t[i]);
  std::printf("\n");
}

void header() {
  std::string names = "| dtype | GEMM | m | n | k |", align = "| --- | --- | ---: | ---: | ---: |";
  for (const auto& k : g_kernels) names += " " + k + " GFLOP/s |";
  names += " OpenBLAS GFLOP/s |";
  for (const auto& k : g_kernels) names += " " + k + " % of peak |";
  names += " OpenBLAS % of peak |";
  for (const auto& k : g_kernels) names += " " + k + " / OpenBLAS |";
  for (std::size_t i = 0; i < 3 * g_kernels.size() + 2; ++i) align += " ---: |";
  std::printf("%s\n%s\n", names.c_str(), align.c_str());
}

int usage(const char* why) {
  std::fprintf(stderr, "gemm_bench: %s\nusage: gemm_bench [--kernels] [sizes...] | --peak\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  namespace cpu = flowtape::kernels::cpu;
  openblas_set_num_threads(1);
  if (argc == 2 && std::string(argv[1]) == "--peak") {
    std::printf("%.1f\n", fma_peak<float>() * 1e-9);
    return 0;
  }
  std::vector<int> sizes;
  bool all_kernels = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--kernels") {
      all_kernels = true;
      continue;
    }
    char* end = nullptr;
    const long n = std::strtol(arg.c_str(), &end, 10);
    if (end == arg.c_str() || *end != '\0' || n < 1 || n > 8192)
      return usage(("not an option or a size in [1, 8192]: " + arg).c_str());
    sizes.push_back(static_cast<int>(n));
  }
  const bool step_shapes = sizes.empty();
  if (sizes.empty()) sizes = {64, 128, 256, 512, 1024};
  if (all_kernels) {
    for (const auto& k : cpu::tile_kernels())
      if (k.runs_here) g_kernels.emplace_back(k.name);
  } else {
    g_kernels.emplace_back(cpu::tile_kernel().name);
  }
  const double peak32 = fma_peak<float>(), peak64 = fma_peak<double>();
  std::printf("single thread; CPU: %s; tile kernel: %s (chosen: %s, for %s)\n",
              cpu::cpu_info().describe().c_str(), cpu::tile_kernel().name,
              cpu::default_tile_kernel().name, cpu::default_tile_kernel_reason().c_str());
  std::printf("OpenBLAS core: %s; FMA peak of this core: %.1f GFLOP/s f32, %.1f f64\n",
              openblas_get_corename(), peak32 * 1e-9, peak64 * 1e-9);
  if (const char* pinned = std::getenv("OPENBLAS_CORETYPE"))
    std::printf("note: OPENBLAS_CORETYPE=%s pins OpenBLAS's kernel; unset it for its own choice\n",
                pinned);
  std::printf("\n");
  header();
  for (int n : sizes) run<float>("f32", {"A B", false, false, n, n, n, false}, peak32);
  for (int n : sizes) run<double>("f64", {"A B", false, false, n, n, n, false}, peak64);
  const int mid = 512;
  run<float>("f32", {"A^T B", true, false, mid, mid, mid, false}, peak32);
  run<float>("f32", {"A B^T", false, true, mid, mid, mid, false}, peak32);
  if (!step_shapes) return 0;

  std::printf("\nThe GEMMs of one W x W layer of a training step at batch B (f32):\n\n");
  header();
  for (int w : {64, 256})
    for (int batch : {256, 1024, 4096}) {
      const std::string at = " W=" + std::to_string(w) + " B=" + std::to_string(batch);
      run<float>("f32", {"x w^T + b" + at, false, true, batch, w, w, true}, peak32);
      run<float>("f32", {"g w" + at, false, false, batch, w, w, false}, peak32);
      run<float>("f32", {"g^T x" + at, true, false, w, w, batch, false}, peak32);
    }

  // The thin kernels (kernels/cpu/gemm_thin.cpp): input (x, t) has 3 features, output 2.
  std::printf(
      "\nThe first and last layers' GEMMs (3 inputs, 2 outputs: a dimension of at most 4, "
      "gemm_thin.cpp), f32:\n\n");
  header();
  for (int w : {64, 256})
    for (int batch : {256, 4096}) {
      const std::string at = " W=" + std::to_string(w) + " B=" + std::to_string(batch);
      run<float>("f32", {"in: x w^T + b" + at, false, true, batch, w, 3, true}, peak32);
      run<float>("f32", {"in: g^T x" + at, true, false, w, 3, batch, false}, peak32);
      run<float>("f32", {"out: h w^T + b" + at, false, true, batch, 2, w, true}, peak32);
      run<float>("f32", {"out: g w" + at, false, false, batch, w, 2, false}, peak32);
      run<float>("f32", {"out: g^T h" + at, true, false, 2, w, batch, false}, peak32);
    }
  return 0;
}
