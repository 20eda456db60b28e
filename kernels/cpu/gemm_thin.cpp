// SPDX-License-Identifier: MIT
// Kernels for a GEMM with a dimension of at most 4 (see gemm_thin.hpp). Each keeps the thin
// dimension whole in registers and vectorises along a dimension that is contiguous in memory,
// so no work is spent on padding to a register tile. Except for the dot-product kernel, each
// element is one FMA chain over p in the tiled kernel's order (restarted at each KC block and
// stored through the same epilogue), which is what makes the results bit-identical to the
// tiles.
#include "flowtape/kernels/cpu/gemm_thin.hpp"

#include <algorithm>
#include <utility>

#include "flowtape/kernels/cpu/gemm_common.hpp"

namespace flowtape::kernels::cpu::gemm_detail {
namespace {

// Vector registers of the target: 32 with AVX-512, 16 otherwise (AVX2, NEON's 32 are not
// counted on). The kernels below size their register blocks to it.
template <class T>
inline constexpr int kVectorRegisters = sizeof(Batch<T>) == 64 ? 32 : 16;

// Values [0, count) of a chunk of V batches, zero past count.
template <int V, class T>
inline void load_chunk(const T* p, std::int64_t count, Batch<T> (&v)[V]) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  if (count >= V * W) {
#pragma GCC unroll 8
    for (int q = 0; q < V; ++q) v[q] = B::load_unaligned(p + q * W);
    return;
  }
#pragma GCC unroll 8
  for (int q = 0; q < V; ++q) {
    const std::int64_t left = count - q * W;
    v[q] = left >= W  ? B::load_unaligned(p + q * W)
           : left > 0 ? load_partial(p + q * W, left)
                      : B(T(0));
  }
}

// Rows of op(A) or b taken at a time by the outer-product kernels: 16 rows of a width-256
// f32 matrix are 16 KB, which stay in L1 while every chunk of C passes over them.
constexpr std::int64_t kRowBlock = 16;

// The strides of op(X) for X stored with row stride ld: op(X)[r, c] = x[r * first + c * second].
inline std::pair<std::int64_t, std::int64_t> element_strides(bool trans, std::int64_t ld) {
  using Strides = std::pair<std::int64_t, std::int64_t>;
  return trans ? Strides{1, ld} : Strides{ld, 1};
}

// n rounded up to whole chunks of V batches.
template <int V, class T>
std::int64_t padded(std::int64_t n) {
  constexpr std::int64_t C = V * kWidth<T>;
  return (n + C - 1) / C * C;
}

// The alpha-scaled sums of a chunk: the multiply is skipped where alpha = 1 (x * 1 = x
// exactly, so the bits are the tiles'). A rank-k kernel does K FMAs per stored vector, so the
// multiply is a third of its arithmetic at K = 2. Skipping it with op(B) in registers
// (rank_k_resident) took an output layer's input gradient at width 64 from 0.75 to 1.1x
// OpenBLAS, and the input layer's forward pass from 1.9 to 3.3x (f32, Zen 5); either change
// alone gained nothing measurable.
template <bool Scale, class B>
inline B scaled(B va, B acc) {
  if constexpr (Scale)
    return va * acc;
  else
    return acc;
}

// k = K: op(B) (K x n, zero-padded to whole pairs of chunks) is copied once into a buffer, then
// C is written row by row, in memory order: C[i, :] = sum_p op(A)[i, p] op(B)[p, :]. An input
// layer's forward pass (x [batch, 2 + 1] w^T) and an output layer's input gradient
// (g [batch, 2] w). Writing C a column chunk at a time instead (op(B)'s chunk in registers)
// strode through C a row apart: 1.7-1.8x slower for a [4096, 256] C, and 1.2-1.4x at [256, 64].
template <int K, class T>
T* pack_rank_k_b(bool tb, std::int64_t n, const T* b, std::int64_t ldb, std::int64_t n_pad) {
  T* bk = scratch<T>(0, static_cast<std::size_t>(K * n_pad));
  for (int p = 0; p < K; ++p) {  // a loop per layout, with no test per element
    T* row = bk + p * n_pad;
    if (tb)
      for (std::int64_t j = 0; j < n; ++j) row[j] = b[j * ldb + p];
    else
      for (std::int64_t j = 0; j < n; ++j) row[j] = b[p * ldb + j];
    std::fill(row + n, row + n_pad, T(0));
  }
  return bk;
}

// A narrow C of exactly C chunks (K C vectors of op(B) that fit in half the registers): op(B)
// stays in registers and each row is K broadcasts, K C FMAs and C stores. One row at a time
// ran as fast as two or four (f32, [256, 64] and [4096, 64], Zen 5). A ragged last chunk
// would need a run-time test per row, and with it GCC kept the sums on the stack.
template <int K, int C, bool Scale, class T>
void rank_k_resident(std::int64_t a_row, std::int64_t a_col, std::int64_t m, T alpha, const T* a,
                     const T* bk, T beta, T* c, std::int64_t ldc, const T* bias) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  B bv[K][C];
#pragma GCC unroll 4
  for (int p = 0; p < K; ++p)
#pragma GCC unroll 8
    for (int q = 0; q < C; ++q) bv[p][q] = B::load_aligned(bk + p * C * W + q * W);
  const B va(alpha);
  for (std::int64_t i = 0; i < m; ++i) {
    B av[K];
#pragma GCC unroll 4
    for (int p = 0; p < K; ++p) av[p] = B(a[i * a_row + p * a_col]);
    B acc[C];
#pragma GCC unroll 8
    for (int q = 0; q < C; ++q) {
      acc[q] = B(T(0));
#pragma GCC unroll 4
      for (int p = 0; p < K; ++p) acc[q] = fmadd(av[p], bv[p][q], acc[q]);
    }
    T* row = c + i * ldc;
#pragma GCC unroll 8
    for (int q = 0; q < C; ++q)
      store_batch(row + q * W, scaled<Scale>(va, acc[q]), beta, bias ? bias + q * W : nullptr);
  }
}

// A wider C streams op(B) from the buffer (in L1 for the widths an MLP has: 16 KB at n = 1024,
// K = 4). With AVX-512, four rows at a time, a compile-time count, ran 1.05-1.45x as fast as
// two with a run-time check for the last row (f32, the benchmark grid's shapes, Zen 5).
template <int K, bool Scale, class T>
void rank_k_streamed(std::int64_t a_row, std::int64_t a_col, std::int64_t m, std::int64_t n,
                     T alpha, const T* a, const T* bk, std::int64_t n_pad, T beta, T* c,
                     std::int64_t ldc, const T* bias) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  const B va(alpha);
  // R rows at a time share each load of op(B); R is a constant, so that nothing of the row
  // count is decided per chunk.
  const auto rows_from = [&]<int R>(std::int64_t i) {
    B av[R][K];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int p = 0; p < K; ++p) av[r][p] = B(a[(i + r) * a_row + p * a_col]);
    for (std::int64_t j0 = 0; j0 < n; j0 += 2 * W) {
      B acc0[R], acc1[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = B(T(0));
#pragma GCC unroll 4
      for (int p = 0; p < K; ++p) {
        const B b0 = B::load_aligned(bk + p * n_pad + j0),
                b1 = B::load_aligned(bk + p * n_pad + j0 + W);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          acc0[r] = fmadd(av[r][p], b0, acc0[r]);
          acc1[r] = fmadd(av[r][p], b1, acc1[r]);
        }
      }
      const std::int64_t count = std::min(2 * W, n - j0);
      const T* bias_chunk = bias ? bias + j0 : nullptr;
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        store_pair(c + (i + r) * ldc + j0, count, scaled<Scale>(va, acc0[r]),
                   scaled<Scale>(va, acc1[r]), beta, bias_chunk);
    }
  };
  // Four rows need 4 K broadcasts + 8 accumulators + 2 loads of op(B): 26 registers at K = 4,
  // which AVX-512 has and AVX2's 16 do not (two rows: 14).
  constexpr int kRows = sizeof(B) == 64 ? 4 : 2;
  std::int64_t i = 0;
  for (; i + kRows <= m; i += kRows) rows_from.template operator()<kRows>(i);
  for (; i < m; ++i) rows_from.template operator()<1>(i);
}

template <int K, class T>
void rank_k(bool ta, bool tb, std::int64_t m, std::int64_t n, T alpha, const T* a, std::int64_t lda,
            const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc, const T* bias) {
  constexpr std::int64_t W = kWidth<T>;
  // Plain variables, not a structured binding: the lambda below captures them, which clang
  // before 16 refuses for bindings.
  const std::pair<std::int64_t, std::int64_t> strides = element_strides(ta, lda);
  const std::int64_t a_row = strides.first, a_col = strides.second;
  const std::int64_t n_pad = padded<2, T>(n);
  const T* bk = pack_rank_k_b<K>(tb, n, b, ldb, n_pad);
  const auto run = [&]<bool Scale>() {
    // op(B) resident where it is C whole chunks and its K C vectors fit in half the
    // registers.
    constexpr int kMaxChunks = kVectorRegisters<T> / 2 / K;
    if (n == 2 * W && 2 <= kMaxChunks)
      rank_k_resident<K, 2, Scale>(a_row, a_col, m, alpha, a, bk, beta, c, ldc, bias);
    else if (n == 4 * W && 4 <= kMaxChunks)
      rank_k_resident<K, 4, Scale>(a_row, a_col, m, alpha, a, bk, beta, c, ldc, bias);
    else
      rank_k_streamed<K, Scale>(a_row, a_col, m, n, alpha, a, bk, n_pad, beta, c, ldc, bias);
  };
  if (alpha == T(1))
    run.template operator()<false>();
  else
    run.template operator()<true>();
}

// Vectors of a chunk in outer_sums for R rows: R x V accumulators, V loads of a row and a
// broadcast must fit the registers. Four vectors give R = 2 eight independent FMA chains,
// which two FMA pipes of latency 4 need; with two vectors (four chains) an output layer's
// weight gradient waited on the latency. With 16 registers, R = 3 and 4 take two.
template <int R, class T>
constexpr int outer_sum_vectors() {
  return R * 4 + 4 + 1 <= kVectorRegisters<T> - 2 ? 4 : 2;
}

// The loop both thin weight-gradient kernels share, for one k-block [pc, p_end):
// sums[r * len_pad + e] = sum_p S(p, r) V[p, e] for r < R and e < len, where row p of V is
// contiguous at v + p * ldv and S(p, r) = s[p * s_p + r * s_r]; len_pad is len rounded up to
// whole chunks of outer_sum_vectors<R, T>() batches. A chunk of all R rows accumulates in
// registers. Rows of V are read in memory order, kRowBlock at a time; for each block, every
// chunk's running sums come from `sums`, advance through the block and go back. Striding down
// V a chunk at a time instead (its rows a row apart) ran 1.3-1.9x slower at batch 1024-4096,
// width 256. Where one chunk holds all of len, its sums stay in registers for the whole
// k-block instead of going back to `sums` every kRowBlock rows.
template <int R, class T>
void outer_sums(std::int64_t pc, std::int64_t p_end, const T* v, std::int64_t ldv, std::int64_t len,
                const T* s, std::int64_t s_p, std::int64_t s_r, T* sums, std::int64_t len_pad) {
  using B = Batch<T>;
  constexpr int V = outer_sum_vectors<R, T>();
  constexpr std::int64_t W = kWidth<T>;
  std::fill(sums, sums + R * len_pad, T(0));
  const std::int64_t row_block = len <= V * W ? p_end - pc : kRowBlock;
  for (std::int64_t pb = pc; pb < p_end; pb += row_block) {
    const std::int64_t pe = std::min(p_end, pb + row_block);
    for (std::int64_t e0 = 0; e0 < len; e0 += V * W) {
      const std::int64_t count = std::min(V * W, len - e0);
      B acc[R][V];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int q = 0; q < V; ++q) acc[r][q] = B::load_aligned(sums + r * len_pad + e0 + q * W);
      for (std::int64_t p = pb; p < pe; ++p) {
        B row[V];
        load_chunk(v + p * ldv + e0, count, row);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const B sv(s[p * s_p + r * s_r]);
#pragma GCC unroll 4
          for (int q = 0; q < V; ++q) acc[r][q] = fmadd(sv, row[q], acc[r][q]);
        }
      }
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int q = 0; q < V; ++q) acc[r][q].store_aligned(sums + r * len_pad + e0 + q * W);
    }
  }
}

// n = N and op(A) = a^T: C[i, j] = sum_p a[p, i] op(B)[p, j]. Row p of a is contiguous in i,
// so outer_sums runs along the rows of a, and the [m, N] result is stored transposed. A first
// layer's weight gradient, g^T x with x [batch, 3].
template <int N, class T>
void thin_n_trans_a(bool tb, std::int64_t m, std::int64_t k, T alpha, const T* a, std::int64_t lda,
                    const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc, const T* bias) {
  constexpr std::int64_t KC = kKC;
  const auto [b_row, b_col] = element_strides(tb, ldb);  // op(B)[p, j]
  const std::int64_t m_pad = padded<outer_sum_vectors<N, T>(), T>(m);
  T* sums = scratch<T>(0, static_cast<std::size_t>(N * m_pad));  // sums[j * m_pad + i]
  for (std::int64_t pc = 0; pc < k; pc += KC) {
    outer_sums<N>(pc, std::min(k, pc + KC), a, lda, m, b, b_row, b_col, sums, m_pad);
    const T beta_block = block_beta(pc, beta);
    const T* bias_block = block_bias(pc, bias);
    for (std::int64_t i = 0; i < m; ++i)
      for (int j = 0; j < N; ++j)
        store_scalar(c[i * ldc + j], alpha * sums[j * m_pad + i], beta_block,
                     bias_block ? bias_block + j : nullptr);
  }
}

// m = M and op(B) = b: C[i, :] = sum_p op(A)[i, p] b[p, :], outer_sums along the rows of b.
// An output layer's weight gradient, g^T h with g [batch, 2].
template <int M, class T>
void thin_m(bool ta, std::int64_t n, std::int64_t k, T alpha, const T* a, std::int64_t lda,
            const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc, const T* bias) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>, KC = kKC;
  const auto [a_row, a_col] = element_strides(ta, lda);  // op(A)[i, p]
  const std::int64_t n_pad = padded<outer_sum_vectors<M, T>(), T>(n);
  T* sums = scratch<T>(0, static_cast<std::size_t>(M * n_pad));  // sums[i * n_pad + j]
  const B va(alpha);
  for (std::int64_t pc = 0; pc < k; pc += KC) {
    outer_sums<M>(pc, std::min(k, pc + KC), b, ldb, n, a, a_col, a_row, sums, n_pad);
    const T beta_block = block_beta(pc, beta);
    const T* bias_block = block_bias(pc, bias);
    for (int i = 0; i < M; ++i)
      for (std::int64_t j0 = 0; j0 < n; j0 += 2 * W)
        store_pair(c + i * ldc + j0, std::min(2 * W, n - j0),
                   va * B::load_aligned(sums + i * n_pad + j0),
                   va * B::load_aligned(sums + i * n_pad + j0 + W), beta_block,
                   bias_block ? bias_block + j0 : nullptr);
  }
}

// n = N and op(A) = a: each element is a dot product of a row of a and a row of bt (op(B)
// transposed, n x k), vectorised along k and summed across the lanes at the end, so its bits
// differ from the tiles'. Two rows of C at a time: 2N independent FMA chains. An output
// layer's forward pass, h [batch, W] w^T with w [2, W].
template <int N, class T>
void thin_n_dot(std::int64_t m, std::int64_t k, T alpha, const T* a, std::int64_t lda, const T* bt,
                std::int64_t ldbt, T beta, T* c, std::int64_t ldc, const T* bias) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  // R rows of C from row i. R is a constant, so the accumulators stay in registers: indexed
  // by a run-time row count they lived on the stack, each FMA waiting on a store and a load.
  const auto rows_from = [&]<int R>(std::int64_t i) {
    B acc[R][N];
    for (auto& row : acc)
      for (B& x : row) x = B(T(0));
    std::int64_t p = 0;
    for (; p + W <= k; p += W)
#pragma GCC unroll 2
      for (int r = 0; r < R; ++r) {
        const B av = B::load_unaligned(a + (i + r) * lda + p);
#pragma GCC unroll 4
        for (int j = 0; j < N; ++j)
          acc[r][j] = fmadd(av, B::load_unaligned(bt + j * ldbt + p), acc[r][j]);
      }
    if (p < k)
#pragma GCC unroll 2
      for (int r = 0; r < R; ++r) {
        const B av = load_partial(a + (i + r) * lda + p, k - p);
#pragma GCC unroll 4
        for (int j = 0; j < N; ++j)
          acc[r][j] = fmadd(av, load_partial(bt + j * ldbt + p, k - p), acc[r][j]);
      }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < N; ++j)
        store_scalar(c[(i + r) * ldc + j], alpha * xsimd::hadd(acc[r][j]), beta,
                     bias ? bias + j : nullptr);
  };
  std::int64_t i = 0;
  for (; i + 2 <= m; i += 2) rows_from.template operator()<2>(i);
  if (i < m) rows_from.template operator()<1>(i);
}

// Calls f.template operator()<V>() for the runtime value v in [1, kThin].
template <class F>
void with_thin(std::int64_t v, F&& f) {
  switch (v) {
    case 1:
      return f.template operator()<1>();
    case 2:
      return f.template operator()<2>();
    case 3:
      return f.template operator()<3>();
    default:
      return f.template operator()<4>();
  }
}

}  // namespace

template <class T>
bool gemm_thin(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
               const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
               std::int64_t ldc, const T* bias) {
  if (k <= kThin) {
    with_thin(k, [&]<int K>() {
      rank_k<K>(trans_a, trans_b, m, n, alpha, a, lda, b, ldb, beta, c, ldc, bias);
    });
    return true;
  }
  if (n <= kThin && trans_a) {
    with_thin(n, [&]<int N>() {
      thin_n_trans_a<N>(trans_b, m, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
    });
    return true;
  }
  if (n <= kThin) {
    const T* bt = b;  // op(B)^T, n x k with row stride ldbt
    std::int64_t ldbt = ldb;
    if (!trans_b) {  // b is k x n: copy its n columns out as rows
      T* packed = scratch<T>(0, static_cast<std::size_t>(n * k));
      for (std::int64_t p = 0; p < k; ++p)
        for (std::int64_t j = 0; j < n; ++j) packed[j * k + p] = b[p * ldb + j];
      bt = packed;
      ldbt = k;
    }
    with_thin(n,
              [&]<int N>() { thin_n_dot<N>(m, k, alpha, a, lda, bt, ldbt, beta, c, ldc, bias); });
    return true;
  }
  if (m <= kThin && !trans_b) {
    with_thin(
        m, [&]<int M>() { thin_m<M>(trans_a, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias); });
    return true;
  }
  return false;
}

template bool gemm_thin<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float,
                               const float*, std::int64_t, const float*, std::int64_t, float,
                               float*, std::int64_t, const float*);
template bool gemm_thin<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double,
                                const double*, std::int64_t, const double*, std::int64_t, double,
                                double*, std::int64_t, const double*);

}  // namespace flowtape::kernels::cpu::gemm_detail
