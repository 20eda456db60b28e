// The Philox generator: a published known-answer vector, reproducibility, independent
// splits, and the moments of the samplers.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "autodiff/autodiff.hpp"

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

BOOST_AUTO_TEST_SUITE_END()
