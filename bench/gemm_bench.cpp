// GEMM throughput: flowtape's packed GEMM against OpenBLAS, single thread, square sizes, in
// the same process. C = A B (row-major, alpha = 1, beta = 0), plus the transposed forms that
// backward passes use (A^T B and A B^T) at one size.
// Usage: gemm_bench [sizes...]   (default 64 128 256 512 1024)
#include <cblas.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench/timing.hpp"
#include "kernels/cpu/gemm.hpp"

extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_corename(void);

namespace {

template <class T>
void blas(bool ta, bool tb, int n, const T* a, const T* b, T* c) {
  const auto oa = ta ? CblasTrans : CblasNoTrans, ob = tb ? CblasTrans : CblasNoTrans;
  if constexpr (sizeof(T) == 4)
    cblas_sgemm(CblasRowMajor, oa, ob, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
  else
    cblas_dgemm(CblasRowMajor, oa, ob, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
}

template <class T>
void run(const char* type, int n, bool ta, bool tb) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> d(-1, 1);
  std::vector<T> a(static_cast<std::size_t>(n) * n), b(a.size()), c(a.size());
  for (auto& v : a) v = static_cast<T>(d(rng));
  for (auto& v : b) v = static_cast<T>(d(rng));
  const double flops = 2.0 * n * n * static_cast<double>(n);
  const double t_ours = flowtape::bench::median_seconds([&] {
    flowtape::kernels::cpu::gemm<T>(ta, tb, n, n, n, T(1), a.data(), n, b.data(), n, T(0), c.data(), n);
  });
  const double t_blas = flowtape::bench::median_seconds([&] { blas<T>(ta, tb, n, a.data(), b.data(), c.data()); });
  const std::string form = std::string(ta ? "A^T" : "A") + (tb ? " B^T" : " B");
  std::printf("| %s | %-7s | %5d | %8.1f | %8.1f | %5.2f |\n", type, form.c_str(), n,
              flops / t_ours * 1e-9, flops / t_blas * 1e-9, t_blas / t_ours);
}

}  // namespace

int main(int argc, char** argv) {
  openblas_set_num_threads(1);
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {64, 128, 256, 512, 1024};
  std::printf("single thread; OpenBLAS core: %s\n\n", openblas_get_corename());
  std::printf("| dtype | form | n | flowtape GFLOP/s | OpenBLAS GFLOP/s | flowtape / OpenBLAS |\n");
  std::printf("| --- | --- | ---: | ---: | ---: | ---: |\n");
  for (int n : sizes) run<float>("f32", n, false, false);
  for (int n : sizes) run<double>("f64", n, false, false);
  const int mid = 512;
  run<float>("f32", mid, true, false);
  run<float>("f32", mid, false, true);
  return 0;
}
