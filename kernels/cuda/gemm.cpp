// cuBLAS GEMM for row-major data. cuBLAS is column-major, and a row-major M x N matrix is
// the column-major N x M matrix of its transpose, so row-major C = op(A) op(B) is computed as
// column-major C^T = op(B)^T op(A)^T: swap the operands and the m/n extents, keep each
// operand's own transpose flag and leading dimension. No data is moved.
//
// One cuBLAS handle per host thread (handles must not be used by two threads at once), bound
// to the legacy default stream like every other kernel. Math mode stays CUBLAS_DEFAULT_MATH:
// f32 GEMMs run in full f32 (no TF32), so GPU results match the CPU within f32 rounding.
#include "kernels/cuda/gemm.hpp"

#include <cublas_v2.h>

#include <stdexcept>
#include <string>

#include "kernels/cuda/check.hpp"

namespace flowtape::kernels::cuda {

namespace {

void check_blas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("flowtape cuda: ") + what + ": " + cublasGetStatusName(s) +
                             " (" + cublasGetStatusString(s) + ")");
}

struct Handle {
  cublasHandle_t h = nullptr;
  Handle() {
    check_blas(cublasCreate(&h), "cublasCreate");
    check_blas(cublasSetStream(h, 0), "cublasSetStream");
  }
  ~Handle() {
    if (h) (void)cublasDestroy(h);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

cublasHandle_t handle() {
  thread_local Handle h;
  return h.h;
}

// cuBLAS takes 32-bit extents; refuse rather than truncate.
int narrow(std::int64_t v, const char* what) {
  if (v < 0 || v > 0x7fffffff)
    throw std::invalid_argument(std::string("flowtape cuda gemm: ") + what + " = " +
                                std::to_string(v) + " exceeds cuBLAS's 32-bit range");
  return static_cast<int>(v);
}

cublasStatus_t call(cublasHandle_t h, cublasOperation_t ob, cublasOperation_t oa, int n, int m,
                    int k, const float* alpha, const float* b, int ldb, long long sb,
                    const float* a, int lda, long long sa, const float* beta, float* c, int ldc,
                    long long sc, int batch) {
  if (batch == 1) return cublasSgemm(h, ob, oa, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
  return cublasSgemmStridedBatched(h, ob, oa, n, m, k, alpha, b, ldb, sb, a, lda, sa, beta, c, ldc,
                                   sc, batch);
}

cublasStatus_t call(cublasHandle_t h, cublasOperation_t ob, cublasOperation_t oa, int n, int m,
                    int k, const double* alpha, const double* b, int ldb, long long sb,
                    const double* a, int lda, long long sa, const double* beta, double* c, int ldc,
                    long long sc, int batch) {
  if (batch == 1) return cublasDgemm(h, ob, oa, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
  return cublasDgemmStridedBatched(h, ob, oa, n, m, k, alpha, b, ldb, sb, a, lda, sa, beta, c, ldc,
                                   sc, batch);
}

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, std::int64_t stride_a, const T* b, std::int64_t ldb,
          std::int64_t stride_b, T beta, T* c, std::int64_t ldc, std::int64_t stride_c,
          std::int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  // cuBLAS requires leading dimensions >= 1 even when an operand is empty (k == 0).
  const auto ld = [](std::int64_t v) { return v < 1 ? std::int64_t{1} : v; };
  check_blas(
      call(handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
           narrow(n, "n"), narrow(m, "m"), narrow(k, "k"), &alpha, b, narrow(ld(ldb), "ldb"),
           stride_b, a, narrow(ld(lda), "lda"), stride_a, &beta, c, narrow(ld(ldc), "ldc"),
           stride_c, narrow(batch, "batch")),
      "gemm");
}

template void gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*,
                          std::int64_t, std::int64_t, const float*, std::int64_t, std::int64_t,
                          float, float*, std::int64_t, std::int64_t, std::int64_t);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double,
                           const double*, std::int64_t, std::int64_t, const double*, std::int64_t,
                           std::int64_t, double, double*, std::int64_t, std::int64_t, std::int64_t);

}  // namespace flowtape::kernels::cuda
