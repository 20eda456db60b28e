// SPDX-License-Identifier: MIT
// Generator: a counter-based Philox-4x32-10 random number generator (Salmon et al., SC'11).
// A (key, counter) pair fully determines the stream, so runs are reproducible bit for bit,
// and split() derives independent child streams without sharing state (as in JAX).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace flowtape {

class Generator {
 public:
  using Block = std::array<std::uint32_t, 4>;

  explicit Generator(std::uint64_t seed = 0, std::uint64_t stream = 0);

  // The next 128 random bits.
  Block next_block();
  // The next n blocks, as n calls of next_block() would give them.
  void next_blocks(Block* out, std::int64_t n);
  // A generator whose stream is independent of this one's; advances this one.
  Generator split();

  void fill_uniform(float* out, std::int64_t n);   // [0, 1)
  void fill_uniform(double* out, std::int64_t n);  // [0, 1)
  void fill_normal(float* out, std::int64_t n);    // N(0, 1) by Box-Muller
  void fill_normal(double* out, std::int64_t n);
  double uniform();  // one double in [0, 1): uniform_of(next_block())
  double normal();   // one N(0, 1) double: normals_of on next_block()

  // What uniform() and normal() make of the block they draw. A sampler that interleaves those
  // calls (a mixture: one uniform for the component, then normals) can draw all its blocks with
  // next_blocks and convert the normals' blocks in one vectorised call, with the same values.
  static double uniform_of(const Block& b);
  static void normals_of(const Block* blocks, std::int64_t n, double* out);

  std::uint64_t key() const { return key_; }
  std::uint64_t counter() const { return counter_; }
  std::uint64_t stream() const { return stream_; }
  // Restores a generator saved as (key, counter, stream), e.g. from a checkpoint.
  static Generator from_state(std::uint64_t key, std::uint64_t counter, std::uint64_t stream);

 private:
  std::uint64_t key_;
  std::uint64_t counter_ = 0;  // blocks produced so far
  std::uint64_t stream_;
};

// The last k steps of a backward Fisher-Yates shuffle: for i = n-1 down to n-k, swap order[i]
// with order[j], j uniform in [0, i]. The last k entries are then a uniformly drawn ordered
// k-subset of the entries (a subset without replacement); k >= n - 1 shuffles all of them.
// The one seeded shuffle of the project, so held-out splits and subsets draw alike.
void shuffle_tail(std::vector<std::int64_t>& order, std::int64_t k, Generator& gen);

// The Philox-4x32-10 bijection of one 128-bit counter under a 64-bit key.
std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> ctr, std::uint64_t key);

}  // namespace flowtape
