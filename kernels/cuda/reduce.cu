// SPDX-License-Identifier: MIT
// Axis reductions (see reduce.hpp) of a buffer viewed as [outer, len, inner]. Each output folds
// `len` values with an accumulator (Sum, Max, or Lse: the running maximum and the sum of
// exp(x - maximum), rescaled when the maximum grows), and the work is cut so the whole device
// is busy whatever the shape:
//  - short axes (len <= 32, such as a per-sample sum over 2 coordinates): one thread per output;
//  - inner == 1 (the axis is contiguous: a loss's mean over the batch, a softmax over
//    features): blocks of 256 threads stride along a row, coalesced, and combine through warp
//    shuffles and shared memory;
//  - inner > 1 (a bias gradient: [batch, features] summed over the batch): blocks of 32
//    neighbouring columns x 8 row lanes, so each warp reads 32 neighbouring addresses.
// A long axis with few outputs is also cut into `chunks` pieces, one block each; their partial
// accumulators go to scratch memory and a second kernel folds them, one warp per output.
// (Before the cut, summing [65536, 256] over the batch ran 256 threads in all, each through
// 65536 rows: a thousand times slower than the device allows.)
// Chunking depends only on the shape and every combine follows a fixed tree, so a run gives
// the same bits every time; the order differs from the CPU's, hence the tests' tolerances.
// Softmax is the Lse fold followed by the map y = exp(x - max) / sum, the CPU's formula.
#include <algorithm>
#include <cmath>

#include "flowtape/kernels/cuda/allocator.hpp"
#include "flowtape/kernels/cuda/launch.cuh"
#include "flowtape/kernels/cuda/reduce.hpp"

namespace flowtape::kernels::cuda {

namespace {

constexpr int kRowThreads = 256;
constexpr int kTileCols = 32, kTileRows = 8;  // the column kernel's block
// Enough blocks to fill an H100/H200 (132 SMs) several times over. A constant rather than the
// device's SM count so that the chunking, and hence the bits, are the same on every device.
constexpr std::int64_t kTargetBlocks = 1024;
constexpr std::int64_t kShortAxis = 32;

// NaN wins, as in the CPU's max.
template <class T>
__device__ T max_nan(T a, T b) {
  return (b > a || isnan(b)) ? b : a;
}

template <class T>
struct SumAcc {
  using State = T;
  __device__ static State init() { return T(0); }
  __device__ static State push(State a, T x) { return a + x; }
  __device__ static State merge(State a, State b) { return a + b; }
  __device__ static T finish(State a) { return a; }
};

template <class T>
struct MaxAcc {
  using State = T;
  __device__ static State init() { return -INFINITY; }
  __device__ static State push(State a, T x) { return max_nan(a, x); }
  __device__ static State merge(State a, State b) { return max_nan(a, b); }
  __device__ static T finish(State a) { return a; }
};

template <class T>
struct LseState {
  T m;  // the maximum so far
  T s;  // sum of exp(x - m) so far
};

template <class T>
struct LseAcc {
  using State = LseState<T>;
  __device__ static State init() { return {-INFINITY, T(0)}; }
  __device__ static State merge(State a, State b) {
    const T m = max_nan(a.m, b.m);
    if (isnan(m)) return {m, m};
    // All -inf so far: no mass (exp(-inf - -inf) would be NaN). A +inf entry: the log-sum-exp
    // is +inf and the softmax, as on the CPU, NaN (there exp(inf - inf) enters the sum).
    if (isinf(m)) return {m, m > 0 ? T(NAN) : T(0)};
    const T sa = isinf(a.m) ? T(0) : a.s * exp(a.m - m);
    const T sb = isinf(b.m) ? T(0) : b.s * exp(b.m - m);
    return {m, sa + sb};
  }
  __device__ static State push(State a, T x) { return merge(a, {x, T(1)}); }
  __device__ static T finish(State a) { return isinf(a.m) ? a.m : a.m + log(a.s); }
};

template <class T>
__device__ T shfl_down(T v, int offset) {
  return __shfl_down_sync(0xffffffffu, v, offset);
}
template <class T>
__device__ LseState<T> shfl_down(LseState<T> v, int offset) {
  return {shfl_down(v.m, offset), shfl_down(v.s, offset)};
}

// Combines v over a block of kRowThreads threads; thread 0 gets the result.
template <class Acc, class S>
__device__ S block_reduce(S v) {
  __shared__ S warp_partial[kRowThreads / 32];
  for (int o = 16; o > 0; o /= 2) v = Acc::merge(v, shfl_down(v, o));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kRowThreads / 32 ? warp_partial[lane] : Acc::init();
    for (int o = 16; o > 0; o /= 2) v = Acc::merge(v, shfl_down(v, o));
  }
  __syncthreads();  // warp_partial is reused by the block's next row
  return v;
}

// Writes a finished output, or a state instead (a chunk's partial when the axis was cut, or
// softmax's per-output state).
template <class Acc, class T>
__device__ void emit(typename Acc::State acc, T* y, typename Acc::State* partial,
                     std::int64_t out_index, std::int64_t partial_index) {
  if (partial)
    partial[partial_index] = acc;
  else
    y[out_index] = Acc::finish(acc);
}

// inner == 1: block (chunk c = blockIdx.x, row o = blockIdx.y, grid-stride).
template <class Acc, class T>
__global__ void rows_kernel(const T* __restrict__ x, T* __restrict__ y,
                            typename Acc::State* __restrict__ partial, std::int64_t outer,
                            std::int64_t len, std::int64_t chunk_len) {
  const std::int64_t c = blockIdx.x, begin = c * chunk_len;
  const std::int64_t end = begin + chunk_len < len ? begin + chunk_len : len;
  for (std::int64_t o = blockIdx.y; o < outer; o += gridDim.y) {
    const T* row = x + o * len;
    typename Acc::State acc = Acc::init();
    for (std::int64_t k = begin + threadIdx.x; k < end; k += blockDim.x)
      acc = Acc::push(acc, row[k]);
    acc = block_reduce<Acc>(acc);
    if (threadIdx.x == 0) emit<Acc>(acc, y, partial, o, o * gridDim.x + c);
  }
}

// inner > 1: block (32 columns from blockIdx.x * 32, chunk c = blockIdx.y, o = blockIdx.z,
// grid-stride); the 8 row lanes of a column combine through shared memory.
template <class Acc, class T>
__global__ void cols_kernel(const T* __restrict__ x, T* __restrict__ y,
                            typename Acc::State* __restrict__ partial, std::int64_t outer,
                            std::int64_t len, std::int64_t inner, std::int64_t chunk_len) {
  using S = typename Acc::State;
  __shared__ S lanes[kTileRows][kTileCols];
  const std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const std::int64_t c = blockIdx.y, begin = c * chunk_len;
  const std::int64_t end = begin + chunk_len < len ? begin + chunk_len : len;
  for (std::int64_t o = blockIdx.z; o < outer; o += gridDim.z) {
    S acc = Acc::init();
    if (j < inner) {
      const T* col = x + o * len * inner + j;
      for (std::int64_t k = begin + threadIdx.y; k < end; k += kTileRows)
        acc = Acc::push(acc, col[k * inner]);
    }
    lanes[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && j < inner) {
      for (int r = 1; r < kTileRows; ++r) acc = Acc::merge(acc, lanes[r][threadIdx.x]);
      emit<Acc>(acc, y, partial, o * inner + j, (o * gridDim.y + c) * inner + j);
    }
    __syncthreads();
  }
}

// One thread per output (o, j), folding in[o, 0..len, j] in order (short axes, or outputs
// enough to fill the device). With `states` set it stores the folded state instead of the
// finished value (softmax's first pass).
template <class Acc, class T>
__global__ void fold_kernel(const T* __restrict__ in, T* __restrict__ y,
                            typename Acc::State* __restrict__ states, std::int64_t outer,
                            std::int64_t len, std::int64_t inner) {
  FLOWTAPE_GRID_STRIDE(i, outer * inner) {
    const std::int64_t o = i / inner, j = i % inner;
    const T* p = in + o * len * inner + j;
    typename Acc::State acc = Acc::init();
    for (std::int64_t k = 0; k < len; ++k) acc = Acc::push(acc, p[k * inner]);
    emit<Acc>(acc, y, states, i, i);
  }
}

// The second pass over the chunk partials [outer, chunks, inner]: one warp per output, its lanes
// striding over the chunks, then a fixed shuffle tree. (One thread per output walked up to a
// thousand partials in sequence: for a bias gradient, 256 threads in all.)
template <class Acc, class T>
__global__ void merge_kernel(const typename Acc::State* __restrict__ partial, T* __restrict__ y,
                             typename Acc::State* __restrict__ states, std::int64_t outer,
                             std::int64_t chunks, std::int64_t inner) {
  const int lane = threadIdx.x % 32;
  const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * (blockDim.x / 32);
  for (std::int64_t i = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
       i < outer * inner; i += warps) {
    const std::int64_t o = i / inner, j = i % inner;
    typename Acc::State acc = Acc::init();
    for (std::int64_t c = lane; c < chunks; c += 32)
      acc = Acc::merge(acc, partial[(o * chunks + c) * inner + j]);
    for (int off = 16; off > 0; off /= 2) acc = Acc::merge(acc, shfl_down(acc, off));
    if (lane == 0) emit<Acc>(acc, y, states, i, i);
  }
}

template <class T>
__global__ void softmax_map_kernel(const T* __restrict__ x, T* __restrict__ y,
                                   const LseState<T>* __restrict__ st, std::int64_t n,
                                   std::int64_t len, std::int64_t inner) {
  FLOWTAPE_GRID_STRIDE(i, n) {
    const LseState<T> s = st[(i / (len * inner)) * inner + i % inner];
    y[i] = exp(x[i] - s.m) / s.s;
  }
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}
unsigned cap_grid(std::int64_t n) {
  return static_cast<unsigned>(n < 65535 ? n : 65535);
}

// Scratch device memory for partial states, returned to the allocator's cache on scope exit
// (safe right after the launches: all work is on one stream, see runtime.hpp).
struct Scratch {
  void* p = nullptr;
  std::size_t bytes = 0;
  explicit Scratch(std::size_t b) : p(b ? device_malloc(b) : nullptr), bytes(b) {}
  ~Scratch() {
    if (p) device_free(p, bytes);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

// Folds x [outer, len, inner] into y [outer, inner] (finished values), or, when `states` is
// given, into the accumulator states (y unused).
template <class Acc, class T>
void fold(const T* x, T* y, typename Acc::State* states, std::int64_t outer, std::int64_t len,
          std::int64_t inner) {
  using S = typename Acc::State;
  const std::int64_t outputs = outer * inner;
  if (len <= kShortAxis || (inner > 1 && outputs >= kTargetBlocks * kRowThreads)) {
    fold_kernel<Acc, T><<<grid_for(outputs), kThreads>>>(x, y, states, outer, len, inner);
    return;
  }
  // Cut the axis when there are too few blocks otherwise; each piece keeps enough values per
  // thread (8 in a row block, 32 in a column lane) to amortise its partial's write.
  const std::int64_t tiles = inner == 1 ? outer : ceil_div(inner, kTileCols) * outer;
  const std::int64_t min_piece = inner == 1 ? 8 * kRowThreads : 32 * kTileRows;
  std::int64_t chunks = 1;
  if (tiles < kTargetBlocks)
    chunks = std::max<std::int64_t>(
        1, std::min(ceil_div(kTargetBlocks, tiles), ceil_div(len, min_piece)));
  const std::int64_t chunk_len = ceil_div(len, chunks);
  chunks = ceil_div(len, chunk_len);  // no empty trailing piece
  const bool cut = chunks > 1;
  Scratch scratch(cut ? static_cast<std::size_t>(outputs * chunks) * sizeof(S) : 0);
  S* partial = cut ? static_cast<S*>(scratch.p) : (states ? states : nullptr);
  // Uncut with `states`: the block writes the state itself, as the "partial" of one chunk.
  if (inner == 1) {
    const dim3 grid(static_cast<unsigned>(chunks), cap_grid(outer));
    rows_kernel<Acc, T><<<grid, kRowThreads>>>(x, y, partial, outer, len, chunk_len);
  } else {
    const dim3 grid(static_cast<unsigned>(ceil_div(inner, kTileCols)),
                    static_cast<unsigned>(chunks), cap_grid(outer));
    cols_kernel<Acc, T>
        <<<grid, dim3(kTileCols, kTileRows)>>>(x, y, partial, outer, len, inner, chunk_len);
  }
  if (cut)
    merge_kernel<Acc, T>
        <<<grid_for(outputs * 32), kThreads>>>(partial, y, states, outer, chunks, inner);
}

template <class T>
void softmax(const T* x, T* y, std::int64_t outer, std::int64_t len, std::int64_t inner) {
  using S = LseState<T>;
  Scratch st(static_cast<std::size_t>(outer * inner) * sizeof(S));
  fold<LseAcc<T>, T>(x, nullptr, static_cast<S*>(st.p), outer, len, inner);
  const std::int64_t n = outer * len * inner;
  softmax_map_kernel<T>
      <<<grid_for(n), kThreads>>>(x, y, static_cast<const S*>(st.p), n, len, inner);
}

}  // namespace

template <class T>
void reduce_axis(Reduce op, const T* x, T* y, std::int64_t outer, std::int64_t len,
                 std::int64_t inner) {
  if (outer * inner == 0) return;
  // An empty axis needs no special case: the folds run zero times, so sum gives 0, max -inf,
  // logsumexp finish(-inf, 0) = -inf, and softmax has nothing to write.
  switch (op) {
    case Reduce::sum:
      fold<SumAcc<T>, T>(x, y, nullptr, outer, len, inner);
      break;
    case Reduce::max:
      fold<MaxAcc<T>, T>(x, y, nullptr, outer, len, inner);
      break;
    case Reduce::logsumexp:
      fold<LseAcc<T>, T>(x, y, nullptr, outer, len, inner);
      break;
    case Reduce::softmax:
      if (len > 0) softmax(x, y, outer, len, inner);
      break;
  }
  check_launch("reduction kernel");
}

template void reduce_axis<float>(Reduce, const float*, float*, std::int64_t, std::int64_t,
                                 std::int64_t);
template void reduce_axis<double>(Reduce, const double*, double*, std::int64_t, std::int64_t,
                                  std::int64_t);

}  // namespace flowtape::kernels::cuda
