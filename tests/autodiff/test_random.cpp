// SPDX-License-Identifier: MIT
// The Philox generator: a published known-answer vector, reproducibility, independent
// splits, the vectorised Box-Muller against libm, bulk draws against one-at-a-time draws, and
// the moments of the samplers, and the seeded shuffle (a subset without replacement, uniform).
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <map>
#include <numbers>
#include <numeric>
#include <vector>

#include "flowtape/autodiff/autodiff.hpp"

using namespace flowtape;

BOOST_AUTO_TEST_SUITE(rng)

// Known-answer test of Random123's philox4x32_10 (kat_vectors): counter = 0, key = 0.
BOOST_AUTO_TEST_CASE(philox_known_answer) {
  const auto r = philox4x32({0, 0, 0, 0}, 0);
  BOOST_TEST(r[0] == 0x6627e8d5u);
  BOOST_TEST(r[1] == 0xe169c58du);
  BOOST_TEST(r[2] == 0xbc57ac4cu);
  BOOST_TEST(r[3] == 0x9b00dbd8u);
  const auto p = philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                            (std::uint64_t{0x299f31d0u} << 32) | 0xa4093822u);
  BOOST_TEST(p[0] == 0xd16cfe09u);
  BOOST_TEST(p[1] == 0x94fdccebu);
  BOOST_TEST(p[2] == 0x5001e420u);
  BOOST_TEST(p[3] == 0x24126ea1u);
}

// next_blocks runs eight or sixteen counters at a time on SIMD lanes (kernels/cpu/philox.hpp):
// every run length, including the scalar tails, must give the blocks next_block() gives, and
// the counter's high word must carry into lanes past a 2^32 boundary.
BOOST_AUTO_TEST_CASE(bulk_blocks_equal_single_blocks) {
  const std::uint64_t key = 0x0123456789abcdefull, stream = 0xfedcba9876543210ull;
  for (const std::uint64_t counter : {std::uint64_t{0}, (std::uint64_t{1} << 32) - 11,
                                      ~std::uint64_t{0} - 20}) {
    for (std::int64_t n = 0; n <= 41; ++n) {
      Generator bulk = Generator::from_state(key, counter, stream);
      Generator single = bulk;
      std::vector<Generator::Block> blocks(static_cast<std::size_t>(n));
      bulk.next_blocks(blocks.data(), n);
      for (std::int64_t i = 0; i < n; ++i) BOOST_TEST((blocks[i] == single.next_block()));
      BOOST_TEST(bulk.counter() == single.counter());
    }
  }
  // The uniforms, drawn in chunks of blocks, are the words of consecutive blocks in order.
  for (const std::int64_t n : {1, 3, 4, 5, 255, 256, 257, 1000}) {
    Generator a(77, 3), b(77, 3);
    std::vector<float> u(static_cast<std::size_t>(n));
    a.fill_uniform(u.data(), n);
    std::vector<double> ud(static_cast<std::size_t>(n));
    Generator c(77, 3);
    c.fill_uniform(ud.data(), n);
    Generator d(77, 3);
    for (std::int64_t i = 0; i < n; i += 4) {
      const Generator::Block blk = b.next_block();
      for (std::int64_t j = 0; j < 4 && i + j < n; ++j)
        BOOST_TEST(u[i + j] == static_cast<float>(blk[j] >> 8) * 0x1.0p-24f);
    }
    for (std::int64_t i = 0; i < n; i += 2) {
      const Generator::Block blk = d.next_block();
      BOOST_TEST(ud[i] == Generator::uniform_of(blk));
      const std::uint64_t bits = ((std::uint64_t{blk[2]} << 32) | blk[3]) >> 11;
      if (i + 1 < n) BOOST_TEST(ud[i + 1] == static_cast<double>(bits) * 0x1.0p-53);
    }
    BOOST_TEST(a.counter() == b.counter());
    BOOST_TEST(c.counter() == d.counter());
  }
}

BOOST_AUTO_TEST_CASE(same_seed_same_stream_and_splits_differ) {
  Generator a(99), b(99);
  const auto xa = randn({1000}, a).to_vector(), xb = randn({1000}, b).to_vector();
  BOOST_TEST(xa == xb);
  Generator c = a.split(), d = a.split();
  BOOST_TEST(randn({8}, c).to_vector() != randn({8}, d).to_vector());
  const Generator restored = Generator::from_state(b.key(), b.counter(), b.stream());
  Generator r1 = restored, r2 = b;
  BOOST_TEST(rand({5}, r1).to_vector() == rand({5}, r2).to_vector());
}

// Box-Muller in libm's scalar double precision, the reference the vector kernel replaces.
static void libm_box_muller(const Generator::Block& b, double& z0, double& z1) {
  const double u1 = Generator::uniform_of(b);
  const double u2 = Generator::uniform_of({b[2], b[3], 0, 0});
  const double r = std::sqrt(-2.0 * std::log(1.0 - u1));
  z0 = r * std::cos(2.0 * std::numbers::pi * u2);
  z1 = r * std::sin(2.0 * std::numbers::pi * u2);
}

BOOST_AUTO_TEST_CASE(vector_box_muller_matches_libm) {
  // Lengths around the SIMD width and the 64-block chunk, so tails and chunk edges are hit.
  for (std::int64_t n : {1, 2, 3, 5, 8, 63, 64, 65, 127, 129, 4099}) {
    Generator g(7, 3), ref(7, 3);
    std::vector<double> z(static_cast<std::size_t>(n));
    g.fill_normal(z.data(), n);
    double worst = 0;
    for (std::int64_t i = 0; i < n; i += 2) {
      double z0, z1;
      libm_box_muller(ref.next_block(), z0, z1);
      worst = std::max(worst, std::abs(z[i] - z0) / std::max(1.0, std::abs(z0)));
      if (i + 1 < n) worst = std::max(worst, std::abs(z[i + 1] - z1) / std::max(1.0, std::abs(z1)));
    }
    BOOST_TEST(worst <= 4e-16, "n = " << n << ": " << worst);
    BOOST_TEST(g.counter() == ref.counter());
  }
  // The extremes of the uniforms: u1 = 0 (r = 0), u1 = 1 - 2^-53 (the largest r, ~8.57), and
  // u2 at the quarter turns, where one of cos / sin is 0.
  const std::uint32_t top = 0xFFFFFFFFu;
  const std::vector<Generator::Block> edges = {{0, 0, 0, 0},
                                               {top, top, 0, 0},
                                               {top, top, 0x40000000u, 0},
                                               {top, top, 0x80000000u, 0},
                                               {top, top, 0xC0000000u, 0},
                                               {top, top, top, top}};
  std::vector<double> z(edges.size());
  Generator::normals_of(edges.data(), static_cast<std::int64_t>(edges.size()), z.data());
  for (std::size_t i = 0; i < edges.size(); ++i) {
    double z0, z1;
    libm_box_muller(edges[i], z0, z1);
    BOOST_TEST(std::isfinite(z[i]));
    BOOST_TEST(std::abs(z[i] - z0) <= 4e-16 * std::max(1.0, std::abs(z0)),
               i << ": " << z[i] << " vs " << z0);
  }
  BOOST_TEST(z[0] == 0.0);
  // In f32, which training samples, the ulp differences from libm vanish in the rounding:
  // 2^17 samples (2^16 pairs) are libm's to the bit.
  Generator g(2026), ref(2026);
  const std::int64_t n = std::int64_t{1} << 17;
  std::vector<float> f(static_cast<std::size_t>(n));
  g.fill_normal(f.data(), n);
  std::int64_t differ = 0;
  for (std::int64_t i = 0; i < n; i += 2) {
    double z0, z1;
    libm_box_muller(ref.next_block(), z0, z1);
    differ += (f[i] != static_cast<float>(z0)) + (f[i + 1] != static_cast<float>(z1));
  }
  BOOST_TEST(differ == 0);
  BOOST_TEST(std::abs(z[1] - std::sqrt(106 * std::log(2.0))) < 1e-12);
}

// A sampler may draw its blocks in bulk and convert them later (flows/datasets.cpp does): the
// values must be those of uniform() / normal() called one at a time.
BOOST_AUTO_TEST_CASE(bulk_draws_equal_one_at_a_time) {
  Generator bulk(123, 9), single(123, 9);
  const std::int64_t n = 301;
  std::vector<Generator::Block> blocks(static_cast<std::size_t>(2 * n));
  bulk.next_blocks(blocks.data(), 2 * n);
  std::vector<Generator::Block> normal_blocks;
  std::vector<double> uniforms;
  for (std::int64_t i = 0; i < n; ++i) {  // the pattern uniform, normal per item
    uniforms.push_back(Generator::uniform_of(blocks[2 * i]));
    normal_blocks.push_back(blocks[2 * i + 1]);
  }
  std::vector<double> normals(static_cast<std::size_t>(n));
  Generator::normals_of(normal_blocks.data(), n, normals.data());
  for (std::int64_t i = 0; i < n; ++i) {
    BOOST_TEST(uniforms[i] == single.uniform());
    BOOST_TEST(normals[i] == single.normal());
  }
  BOOST_TEST(bulk.counter() == single.counter());
  // normal() is the cosine half of the pair fill_normal makes from the same block.
  Generator a(5), b(5);
  double pair[2];
  a.fill_normal(pair, 2);
  BOOST_TEST(pair[0] == b.normal());
}

// uniform(low, high) keeps to [low, high) in the tensor's own precision: the rounding of
// low + (high - low) u used to land on high (about half the f32 draws of [1e7, 1e7 + 1), where
// f32 holds 1e7 and 1e7 + 1 only) and below low (f32 0.7 is 0.69999999).
BOOST_AUTO_TEST_CASE(uniform_stays_in_its_range_in_the_dtype) {
  Generator gen(8);
  for (const double v : uniform({1000}, 1e7, 1e7 + 1, gen, DType::f32).to_vector())
    BOOST_TEST(v == 1e7);
  for (const double v : uniform({1000}, 0.7, 0.7000001, gen, DType::f32).to_vector()) {
    BOOST_TEST(v >= 0.7);
    BOOST_TEST(v < 0.7000001);
  }
  // The top of an f64 range: 1 + (2 - 1) u rounds to 2 for u within 2^-54 of 1; values stay
  // below 2 and reach its neighbour at most.
  for (const double v : uniform({1000}, 1.0, 1.0 + 0x1p-52, gen, DType::f64).to_vector())
    BOOST_TEST(v == 1.0);
  // A range that holds no f32 value is refused, not filled with values outside it.
  const Generator before = gen;
  BOOST_CHECK_EXCEPTION(uniform({4}, 1e8 + 1, 1e8 + 2, gen, DType::f32), std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return std::string(e.what()).find("no f32 value lies in") !=
                                 std::string::npos;
                        });
  BOOST_TEST(gen.counter() == before.counter());  // refused before anything was drawn
}

BOOST_AUTO_TEST_CASE(sampler_moments) {
  Generator g(2024);
  const int n = 200000;
  for (DType dt : {DType::f32, DType::f64}) {
    const auto z = randn({n}, g, dt).to_vector();
    const auto u = rand({n}, g, dt).to_vector();
    double mz = 0, vz = 0, mu = 0, lo = 1, hi = 0;
    for (int i = 0; i < n; ++i) {
      mz += z[i];
      vz += z[i] * z[i];
      mu += u[i];
      lo = std::min(lo, u[i]);
      hi = std::max(hi, u[i]);
    }
    mz /= n;
    vz = vz / n - mz * mz;
    mu /= n;
    // 5 standard errors
    BOOST_TEST(std::abs(mz) < 5 / std::sqrt(n));
    BOOST_TEST(std::abs(vz - 1) < 5 * std::sqrt(2.0 / n));
    BOOST_TEST(std::abs(mu - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
    BOOST_TEST(lo >= 0.0);
    BOOST_TEST(hi < 1.0);
  }
}

// A range wider than the largest double (high - low overflows) still gives finite draws in it.
BOOST_AUTO_TEST_CASE(uniform_over_a_range_wider_than_the_largest_double) {
  Generator g(3);
  for (const double v : uniform({64}, -1e308, 1e308, g, DType::f64).to_vector()) {
    BOOST_TEST(std::isfinite(v));
    BOOST_TEST((v >= -1e308 && v < 1e308));
  }
}

// shuffle_tail(order, k): the last k entries are k distinct entries, each ordered k-subset
// equally likely (a chi-square over the 12 ordered pairs of 4 entries, 12000 draws: the 0.999
// quantile with 11 degrees of freedom is 31.3; a shuffle biased towards its start fails), and
// k = n - 1 or more is the full shuffle, the same bits as k = n.
BOOST_AUTO_TEST_CASE(shuffle_tail_draws_subsets_uniformly) {
  Generator gen(7, 1);
  std::map<std::pair<std::int64_t, std::int64_t>, int> counts;
  const int draws = 12000;
  for (int r = 0; r < draws; ++r) {
    std::vector<std::int64_t> order{0, 1, 2, 3};
    shuffle_tail(order, 2, gen);
    std::vector<std::int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    BOOST_TEST((sorted == std::vector<std::int64_t>{0, 1, 2, 3}));
    ++counts[{order[2], order[3]}];
  }
  BOOST_TEST(counts.size() == 12u);
  double chi2 = 0;
  for (const auto& [pair, c] : counts) chi2 += std::pow(c - draws / 12.0, 2) / (draws / 12.0);
  BOOST_TEST(chi2 < 31.3);

  std::vector<std::int64_t> a(50), b(50);
  std::iota(a.begin(), a.end(), std::int64_t{0});
  b = a;
  Generator ga(3), gb(3);
  shuffle_tail(a, 49, ga);
  shuffle_tail(b, 50, gb);
  BOOST_TEST(a == b);
  BOOST_TEST(ga.counter() == gb.counter());  // the same 49 draws
}

BOOST_AUTO_TEST_SUITE_END()
