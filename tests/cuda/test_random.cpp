// SPDX-License-Identifier: MIT
// The device Philox samplers give the CPU Generator's numbers for the same state, and leave
// the generator where the CPU fill would.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "gpu.hpp"

using namespace flowtape;

BOOST_AUTO_TEST_SUITE(rng, *test::needs_gpu())

BOOST_AUTO_TEST_CASE(uniform_is_bit_identical) {
  for (DType t : {DType::f32, DType::f64})
    for (std::int64_t n : {1, 3, 5, 1031, 100003}) {
      Generator cpu_gen(2024, 7), gpu_gen(2024, 7);
      (void)cpu_gen.next_block();  // a non-zero starting counter
      (void)gpu_gen.next_block();
      const Tensor want = rand({n}, cpu_gen, t);
      const Tensor got = rand({n}, gpu_gen, t, Device::cuda);
      BOOST_TEST(test::max_rel_diff(got.to_vector(), want.to_vector()) == 0.0);
      BOOST_TEST(gpu_gen.counter() == cpu_gen.counter());
      BOOST_TEST((gpu_gen.next_block() == cpu_gen.next_block()));
    }
}

BOOST_AUTO_TEST_CASE(normal_matches) {
  for (DType t : {DType::f32, DType::f64})
    for (std::int64_t n : {1, 2, 7, 4099}) {
      Generator cpu_gen(99), gpu_gen(99);
      const Tensor want = randn({n}, cpu_gen, t);
      const Tensor got = randn({n}, gpu_gen, t, Device::cuda);
      // Box-Muller through the device's log/sin/cos: at most an ulp or two in double.
      BOOST_TEST(test::max_rel_diff(got.to_vector(), want.to_vector()) <=
                 (t == DType::f32 ? 1.2e-7 : 1e-14));
      BOOST_TEST(gpu_gen.counter() == cpu_gen.counter());
    }
}

BOOST_AUTO_TEST_CASE(uniform_range_and_split_streams) {
  Generator a(5), b(5);
  const Tensor u = uniform({513}, -2.0, 3.0, a, DType::f64, Device::cuda);
  const Tensor w = uniform({513}, -2.0, 3.0, b, DType::f64);
  BOOST_TEST(test::max_rel_diff(u.to_vector(), w.to_vector()) <= 1e-15);
  // f32 maps in double as the CPU does: high - low = 6e38 does not overflow to inf.
  Generator wide_gpu(6), wide_cpu(6);
  const Tensor wg = uniform({257}, -3e38, 3e38, wide_gpu, DType::f32, Device::cuda);
  const Tensor wc = uniform({257}, -3e38, 3e38, wide_cpu, DType::f32);
  for (const double v : wg.to_vector()) BOOST_TEST(std::isfinite(v));
  BOOST_TEST(test::max_rel_diff(wg.to_vector(), wc.to_vector()) <= 1e-7);
  // Both keep to the range in the tensor's precision, with the same values.
  Generator near_gpu(7), near_cpu(7);
  const Tensor ng = uniform({1000}, 1e7, 1e7 + 1, near_gpu, DType::f32, Device::cuda);
  const Tensor nc = uniform({1000}, 1e7, 1e7 + 1, near_cpu, DType::f32);
  for (const double v : ng.to_vector()) BOOST_TEST(v == 1e7);
  BOOST_TEST(test::max_rel_diff(ng.to_vector(), nc.to_vector()) == 0.0);
  Generator child_cpu = Generator(11).split(), child_gpu = Generator(11).split();
  BOOST_TEST(test::max_rel_diff(rand({64}, child_gpu, DType::f32, Device::cuda).to_vector(),
                                rand({64}, child_cpu, DType::f32).to_vector()) == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
