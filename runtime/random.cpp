// SPDX-License-Identifier: MIT
// The Generator (Philox-4x32-10, kernels/cpu/philox.hpp, which draws runs of blocks on SIMD
// lanes) and the samplers built on it. Uniforms take the top bits of each word
// (24 for f32, 53 for f64); normals use Box-Muller in double precision, so f32 and f64
// samples from the same seed agree to f32 rounding. Box-Muller runs on SIMD lanes
// (kernels/cpu/box_muller.hpp) over chunks of blocks, for single draws too, so a block's
// normal is the same whichever call converts it.
#include "flowtape/runtime/random.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "flowtape/kernels/cpu/box_muller.hpp"
#include "flowtape/kernels/cpu/philox.hpp"

namespace flowtape {

std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> c, std::uint64_t key) {
  return kernels::cpu::philox4x32(c, key);
}

Generator::Generator(std::uint64_t seed, std::uint64_t stream) : key_(seed), stream_(stream) {}

Generator Generator::from_state(std::uint64_t key, std::uint64_t counter, std::uint64_t stream) {
  Generator g(key, stream);
  g.counter_ = counter;
  return g;
}

Generator::Block Generator::next_block() {
  return kernels::cpu::philox_block(key_, counter_++, stream_);
}

void Generator::next_blocks(Block* out, std::int64_t n) {
  if (n <= 0) return;
  kernels::cpu::philox_run(key_, counter_, stream_, out, n);
  counter_ += static_cast<std::uint64_t>(n);
}

Generator Generator::split() {
  const auto b = next_block();
  const std::uint64_t child_key = (static_cast<std::uint64_t>(b[0]) << 32) | b[1];
  const std::uint64_t child_stream = (static_cast<std::uint64_t>(b[2]) << 32) | b[3];
  return Generator(child_key, child_stream);
}

namespace {
inline float to_unit_f32(std::uint32_t w) {
  return static_cast<float>(w >> 8) * 0x1.0p-24f;
}
inline double to_unit_f64(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = ((static_cast<std::uint64_t>(hi) << 32) | lo) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}
// Blocks converted per vectorised Box-Muller call: enough to amortise the call, small enough
// for the stack.
constexpr std::int64_t kChunk = 64;
// The Box-Muller uniforms of n blocks: u1 from the first two words, u2 from the last two.
void box_muller_uniforms(const Generator::Block* blocks, std::int64_t n, double* u1, double* u2) {
  for (std::int64_t i = 0; i < n; ++i) {
    u1[i] = to_unit_f64(blocks[i][0], blocks[i][1]);
    u2[i] = to_unit_f64(blocks[i][2], blocks[i][3]);
  }
}
}  // namespace

// Uniforms come from blocks drawn kChunk at a time: f32 takes the four words of a block in
// turn, f64 two words per value.
void Generator::fill_uniform(float* out, std::int64_t n) {
  Block blocks[kChunk];
  for (std::int64_t base = 0; base < n; base += 4 * kChunk) {
    const std::int64_t m = std::min(kChunk, (n - base + 3) / 4);
    next_blocks(blocks, m);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < 4 && base + 4 * i + j < n; ++j)
        out[base + 4 * i + j] = to_unit_f32(blocks[i][j]);
  }
}

void Generator::fill_uniform(double* out, std::int64_t n) {
  Block blocks[kChunk];
  for (std::int64_t base = 0; base < n; base += 2 * kChunk) {
    const std::int64_t m = std::min(kChunk, (n - base + 1) / 2);
    next_blocks(blocks, m);
    for (std::int64_t i = 0; i < m; ++i) {
      const std::int64_t at = base + 2 * i;
      out[at] = to_unit_f64(blocks[i][0], blocks[i][1]);
      if (at + 1 < n) out[at + 1] = to_unit_f64(blocks[i][2], blocks[i][3]);
    }
  }
}

double Generator::uniform_of(const Block& b) {
  return to_unit_f64(b[0], b[1]);
}

double Generator::uniform() {
  return uniform_of(next_block());
}

// Each block gives one normal, from the cosine half of its Box-Muller pair.
void Generator::normals_of(const Block* blocks, std::int64_t n, double* out) {
  alignas(64) double u1[kChunk], u2[kChunk];
  for (std::int64_t base = 0; base < n; base += kChunk) {
    const std::int64_t m = std::min(kChunk, n - base);
    box_muller_uniforms(blocks + base, m, u1, u2);
    kernels::cpu::box_muller(u1, u2, out + base, nullptr, m);
  }
}

double Generator::normal() {
  const Block b = next_block();
  double z;
  normals_of(&b, 1, &z);
  return z;
}

// Each block gives two normals: out[2j] and out[2j+1] are the pair of block j.
template <class T>
static void fill_normal_impl(Generator& g, T* out, std::int64_t n) {
  Generator::Block blocks[kChunk];
  alignas(64) double u1[kChunk], u2[kChunk], z0[kChunk], z1[kChunk];
  const std::int64_t pairs = (n + 1) / 2;
  for (std::int64_t base = 0; base < pairs; base += kChunk) {
    const std::int64_t m = std::min(kChunk, pairs - base);
    g.next_blocks(blocks, m);
    box_muller_uniforms(blocks, m, u1, u2);
    kernels::cpu::box_muller(u1, u2, z0, z1, m);
    for (std::int64_t j = 0; j < m; ++j) {
      const std::int64_t i = 2 * (base + j);
      out[i] = static_cast<T>(z0[j]);
      if (i + 1 < n) out[i + 1] = static_cast<T>(z1[j]);
    }
  }
}

void Generator::fill_normal(float* out, std::int64_t n) {
  fill_normal_impl(*this, out, n);
}
void Generator::fill_normal(double* out, std::int64_t n) {
  fill_normal_impl(*this, out, n);
}

void shuffle_tail(std::vector<std::int64_t>& order, std::int64_t k, Generator& gen) {
  if (k < 0) throw std::invalid_argument("shuffle_tail: k must be >= 0, got " + std::to_string(k));
  const auto n = static_cast<std::int64_t>(order.size());
  // min(..., i) guards the one-ulp case uniform() * (i + 1) rounding up to i + 1.
  for (std::int64_t i = n - 1; i > 0 && i >= n - k; --i) {
    const auto j =
        std::min(static_cast<std::int64_t>(gen.uniform() * static_cast<double>(i + 1)), i);
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
}

}  // namespace flowtape
