// SPDX-License-Identifier: MIT
// The caching device allocator: size classes (pure arithmetic, checked even without a GPU),
// reuse of freed blocks without cudaMalloc, and empty_cache.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "flowtape/kernels/cuda/allocator.hpp"
#include "gpu.hpp"

using namespace flowtape;
namespace kc = flowtape::kernels::cuda;

BOOST_AUTO_TEST_SUITE(allocator_classes)

BOOST_AUTO_TEST_CASE(size_classes) {
  BOOST_TEST(kc::size_class(0) == 512u);
  BOOST_TEST(kc::size_class(1) == 512u);
  BOOST_TEST(kc::size_class(512) == 512u);
  BOOST_TEST(kc::size_class(513) == 1024u);
  BOOST_TEST(kc::size_class((1u << 20) - 1) == (1u << 20));
  BOOST_TEST(kc::size_class(1u << 20) == (2u << 20));
  BOOST_TEST(kc::size_class((2u << 20) + 1) == (4u << 20));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {
// The cache's own checks mean nothing with the cache off (FLOWTAPE_CUDA_ALLOCATOR=direct, as
// gpu_check.sh runs the suites under memcheck).
boost::test_tools::assertion_result caching(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(kc::caching_allocator());
  if (!r) r.message() << "FLOWTAPE_CUDA_ALLOCATOR=direct: the cache is off";
  return r;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(allocator, *test::needs_gpu() * boost::unit_test::precondition(&caching))

BOOST_AUTO_TEST_CASE(freed_blocks_are_reused) {
  kc::empty_cache();
  const std::size_t live = live_storage_bytes();
  { const Tensor warm = empty({1000}, DType::f32, Device::cuda); }
  const kc::AllocatorStats before = kc::allocator_stats();
  for (int i = 0; i < 100; ++i) {
    const Tensor t = empty({1000}, DType::f32, Device::cuda);    // same class each time
    const Tensor u = empty({3, 300}, DType::f32, Device::cuda);  // 3600 B: the same class too
  }
  const kc::AllocatorStats after = kc::allocator_stats();
  BOOST_TEST(after.device_mallocs - before.device_mallocs <= 1u);  // u's first block at most
  BOOST_TEST(after.cache_hits - before.cache_hits >= 199u);
  BOOST_TEST(live_storage_bytes() == live);
  BOOST_TEST(after.in_use_bytes == before.in_use_bytes);
}

BOOST_AUTO_TEST_CASE(empty_cache_releases_everything_free) {
  { const Tensor t = zeros({1 << 20}, DType::f64, Device::cuda); }
  BOOST_TEST(kc::allocator_stats().cached_bytes > 0u);
  cuda_empty_cache();
  BOOST_TEST(kc::allocator_stats().cached_bytes == 0u);
  const Tensor again = full({1 << 20}, 1.0, DType::f64, Device::cuda);
  BOOST_TEST(sum(again).item() == static_cast<double>(1 << 20));
}

BOOST_AUTO_TEST_CASE(training_steps_do_not_grow_memory) {
  // The same step twice: the second must be served entirely from the cache.
  Generator gen(3);
  const Tensor w = randn({64, 64}, gen, DType::f32, Device::cuda);
  auto step = [&] {
    const Tensor x = randn({256, 64}, gen, DType::f32, Device::cuda);
    return grad([&](const std::vector<Tensor>& p) { return mean(square(tanh(matmul(x, p[0])))); },
                {w})[0];
  };
  (void)step();
  const std::size_t mallocs = kc::allocator_stats().device_mallocs;
  (void)step();
  BOOST_TEST(kc::allocator_stats().device_mallocs == mallocs);
}

// A failed allocation that the caller catches leaves no error behind for the next, unrelated
// kernel to report (the runtime's last error is cleared when the failure is thrown).
BOOST_AUTO_TEST_CASE(a_caught_allocation_failure_does_not_fail_the_next_op) {
  BOOST_CHECK_THROW(empty({std::int64_t{1} << 40}, DType::f32, Device::cuda), std::runtime_error);
  Tensor x;
  BOOST_CHECK_NO_THROW(x = exp(ones({4}, DType::f32, Device::cuda)));
  BOOST_TEST(to_host(x).at(0) == std::exp(1.0f), boost::test_tools::tolerance(1e-6));
}

// Once memory is allocated, the device can be selected again but not changed: the cached blocks
// belong to it.
BOOST_AUTO_TEST_CASE(the_device_cannot_change_after_allocations) {
  const Tensor held = ones({1000}, DType::f32, Device::cuda);
  BOOST_CHECK_NO_THROW(cuda_select_device(0));
  if (cuda_device_count() >= 2) BOOST_CHECK_THROW(cuda_select_device(1), std::logic_error);
  BOOST_CHECK_THROW(cuda_select_device(cuda_device_count()), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
