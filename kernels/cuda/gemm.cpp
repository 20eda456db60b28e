// SPDX-License-Identifier: MIT
// cuBLAS GEMM for row-major data. cuBLAS is column-major, and a row-major M x N matrix is
// the column-major N x M matrix of its transpose, so row-major C = op(A) op(B) is computed as
// column-major C^T = op(B)^T op(A)^T: swap the operands and the m/n extents, keep each
// operand's own transpose flag and leading dimension. No data is moved.
//
// gemm_bias goes through cuBLASLt instead, whose epilogue adds the bias as the tile is written.
//
// One cuBLAS handle per host thread (handles must not be used by two threads at once), bound
// to the legacy default stream like every other kernel. Math mode stays CUBLAS_DEFAULT_MATH:
// f32 GEMMs run in full f32 (no TF32), so GPU results match the CPU within f32 rounding.
#include "flowtape/kernels/cuda/gemm.hpp"

#include <cublasLt.h>
#include <cublas_v2.h>

#include <stdexcept>
#include <string>
#include <type_traits>

#include "flowtape/kernels/cuda/allocator.hpp"
#include "flowtape/kernels/cuda/check.hpp"

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

struct LtHandle {
  cublasLtHandle_t h = nullptr;
  void* workspace = nullptr;  // lets the heuristic pick split-K kernels; kept for the thread
  static constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;
  LtHandle() {
    workspace = device_malloc(kWorkspaceBytes);
    try {
      check_blas(cublasLtCreate(&h), "cublasLtCreate");
    } catch (...) {
      device_free(workspace, kWorkspaceBytes);
      throw;
    }
  }
  ~LtHandle() {
    if (h) (void)cublasLtDestroy(h);
    if (workspace) device_free(workspace, kWorkspaceBytes);
  }
  LtHandle(const LtHandle&) = delete;
  LtHandle& operator=(const LtHandle&) = delete;
};

LtHandle& lt_handle() {
  thread_local LtHandle h;
  return h;
}

// Owns the cuBLASLt descriptors of one call.
struct LtCall {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  ~LtCall() {
    if (d) (void)cublasLtMatrixLayoutDestroy(d);
    if (b) (void)cublasLtMatrixLayoutDestroy(b);
    if (a) (void)cublasLtMatrixLayoutDestroy(a);
    if (op) (void)cublasLtMatmulDescDestroy(op);
  }
};

template <class T>
constexpr cudaDataType_t data_type() {
  return std::is_same_v<T, float> ? CUDA_R_32F : CUDA_R_64F;
}

}  // namespace

template <class T>
bool gemm_bias(std::int64_t m, std::int64_t n, std::int64_t k, const T* x, const T* w,
               const T* bias, T* c) {
  if (m == 0 || n == 0) return true;
  if (k == 0) return false;  // nothing to multiply: the caller's broadcast is the answer
  // Column-major, as in gemm: c^T [n, m] = w' [k, n]^T x' [k, m], where w' and x' are the
  // row-major w and x read as column-major; the bias runs along c^T's rows, as the epilogue
  // adds it.
  const int mi = narrow(m, "m"), ni = narrow(n, "n"), ki = narrow(k, "k");
  LtHandle& lt = lt_handle();
  LtCall call;
  const cublasComputeType_t compute =
      std::is_same_v<T, float> ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_64F;
  check_blas(cublasLtMatmulDescCreate(&call.op, compute, data_type<T>()), "cublasLt desc");
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
  check_blas(cublasLtMatmulDescSetAttribute(call.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta),
             "cublasLt transa");
  check_blas(cublasLtMatmulDescSetAttribute(call.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb),
             "cublasLt transb");
  check_blas(cublasLtMatmulDescSetAttribute(call.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                            sizeof epilogue),
             "cublasLt epilogue");
  check_blas(cublasLtMatmulDescSetAttribute(call.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                            sizeof bias),
             "cublasLt bias");
  check_blas(cublasLtMatrixLayoutCreate(&call.a, data_type<T>(), ki, ni, ki), "cublasLt layout");
  check_blas(cublasLtMatrixLayoutCreate(&call.b, data_type<T>(), ki, mi, ki), "cublasLt layout");
  check_blas(cublasLtMatrixLayoutCreate(&call.d, data_type<T>(), ni, mi, ni), "cublasLt layout");
  const T alpha = 1, beta = 0;
  const cublasStatus_t st =
      cublasLtMatmul(lt.h, call.op, &alpha, w, call.a, x, call.b, &beta, c, call.d, c, call.d,
                     nullptr, lt.workspace, LtHandle::kWorkspaceBytes, 0);
  if (st == CUBLAS_STATUS_NOT_SUPPORTED) return false;
  check_blas(st, "gemm with bias (cublasLtMatmul)");
  return true;
}

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
template bool gemm_bias<float>(std::int64_t, std::int64_t, std::int64_t, const float*, const float*,
                               const float*, float*);
template bool gemm_bias<double>(std::int64_t, std::int64_t, std::int64_t, const double*,
                                const double*, const double*, double*);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double,
                           const double*, std::int64_t, std::int64_t, const double*, std::int64_t,
                           std::int64_t, double, double*, std::int64_t, std::int64_t, std::int64_t);

}  // namespace flowtape::kernels::cuda
