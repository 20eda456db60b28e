// SPDX-License-Identifier: MIT
// The GEMM's tile kernels (gemm_kernels.hpp): every kernel this CPU runs gives the bits of
// every other on shapes that reach each part of the loop nest, the choice per CPU follows
// its table, and a kernel named by set_tile_kernel or FLOWTAPE_GEMM_KERNEL is used or refused.
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "flowtape/kernels/cpu/cpu_info.hpp"
#include "flowtape/kernels/cpu/gemm.hpp"
#include "flowtape/kernels/cpu/gemm_kernels.hpp"
#include "support/reference.hpp"
#include "support/threads.hpp"
#include "support/tile_kernel.hpp"

using namespace flowtape::kernels::cpu;
using flowtape::test::max_rel_error;
using flowtape::test::random_vector;

namespace {

using flowtape::test::ScopedTileKernel;

std::vector<std::string> runnable_kernels() {
  std::vector<std::string> names;
  for (const TileKernel& k : flowtape::test::runnable_tile_kernels()) names.emplace_back(k.name);
  return names;
}

struct Shape {
  std::int64_t m, n, k;
  bool ta, tb, bias;
  double alpha, beta;
};

// Shapes that reach every part of the tiled loop nest for every kernel: ragged tiles both
// ways; A read in place (row-major; transposed with rows <= 256 bytes apart) and packed; k
// over three KC blocks; n over two NC panels of the widest kernel (32 f32 columns x 128);
// blocks large enough to be prefetched; alpha, beta and the bias. Shapes with a dimension
// of at most 4 go to the thin kernels, which do not depend on the tile kernel.
std::vector<Shape> shapes() {
  std::vector<Shape> out;
  for (std::int64_t m : {5, 9, 33, 200})
    for (std::int64_t n : {7, 16, 33, 300})
      for (std::int64_t k : {5, 64, 600})
        for (int t = 0; t < 4; ++t)
          out.push_back({m, n, k, (t & 1) != 0, (t & 2) != 0, t == 3, t == 2 ? 0.3 : 1.0,
                         t == 1 ? 0.7 : 0.0});
  out.push_back({9, 4100, 300, false, false, true, 1.0, 0.5});  // two NC panels
  out.push_back({600, 512, 300, true, true, false, 1.0, 0.0});  // prefetched blocks
  out.push_back({64, 64, 1024, true, false, false, 1.0, 0.0});  // a width-64 weight gradient
  return out;
}

// A shape's operands, drawn once, so that every kernel and the triple loop get the same ones.
template <class T>
struct Operands {
  explicit Operands(const Shape& shape)
      : s(shape),
        a(random_vector<T>(static_cast<std::size_t>(s.m * s.k), 1)),
        b(random_vector<T>(static_cast<std::size_t>(s.k * s.n), 2)),
        bias(random_vector<T>(static_cast<std::size_t>(s.n), 3)),
        c(random_vector<T>(static_cast<std::size_t>(s.m * s.n), 4)) {}
  // C after gemm (the kernel in use) or, with `reference`, after the triple loop.
  std::vector<T> product(bool reference) const {
    auto out = c;
    const auto f = reference ? gemm_reference<T> : gemm<T>;
    f(s.ta, s.tb, s.m, s.n, s.k, T(s.alpha), a.data(), s.ta ? s.m : s.k, b.data(), s.tb ? s.k : s.n,
      T(s.beta), out.data(), s.n, s.bias ? bias.data() : nullptr);
    return out;
  }
  Shape s;
  std::vector<T> a, b, bias, c;
};

std::string describe(const Shape& s) {
  return "m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) +
         " ta=" + std::to_string(s.ta) + " tb=" + std::to_string(s.tb) +
         " bias=" + std::to_string(s.bias);
}

// Each kernel against the first (and that one against the triple loop, to rounding), on one
// thread and on two (the parallel blocks are whole tiles of the kernel in use); on two, each
// kernel also against itself on one thread.
template <class T>
void check_same_bits_across_kernels(int threads) {
  const flowtape::test::ScopedThreads scoped(threads);
  const auto kernels = runnable_kernels();
  BOOST_REQUIRE(!kernels.empty());
  if (kernels.size() == 1)
    BOOST_TEST_MESSAGE("only " << kernels[0] << " runs on this CPU (" << cpu_info().describe()
                               << "): no second kernel to compare");
  for (const Shape& s : shapes()) {
    const Operands<T> operands(s);
    std::vector<T> first;
    for (const std::string& name : kernels) {
      const ScopedTileKernel use(name);
      const auto c = operands.product(false);
      if (threads > 1) {
        const flowtape::test::ScopedThreads one(1);
        const auto serial = operands.product(false);
        BOOST_TEST(
            std::memcmp(c.data(), serial.data(), c.size() * sizeof(T)) == 0,
            name << " differs in bits on " << threads << " threads and one: " << describe(s));
      }
      if (first.empty()) {
        first = c;
        const double tol = (sizeof(T) == 4 ? 3e-6 : 1e-14) * static_cast<double>(s.k);
        BOOST_TEST(max_rel_error(c, operands.product(true)) < tol, name << ": " << describe(s));
        continue;
      }
      BOOST_TEST(std::memcmp(c.data(), first.data(), c.size() * sizeof(T)) == 0,
                 name << " and " << kernels[0] << " differ in bits: " << describe(s));
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gemm_kernels)

BOOST_AUTO_TEST_CASE(every_kernel_gives_the_same_bits_f32) {
  check_same_bits_across_kernels<float>(1);
}
BOOST_AUTO_TEST_CASE(every_kernel_gives_the_same_bits_f64) {
  check_same_bits_across_kernels<double>(1);
}
BOOST_AUTO_TEST_CASE(every_kernel_gives_the_same_bits_on_two_threads) {
  check_same_bits_across_kernels<float>(2);
}
BOOST_AUTO_TEST_CASE(every_kernel_gives_the_same_bits_on_two_threads_f64) {
  check_same_bits_across_kernels<double>(2);
}

BOOST_AUTO_TEST_CASE(the_build_has_a_kernel_for_this_cpu) {
  BOOST_TEST(!runnable_kernels().empty());
  BOOST_TEST(default_tile_kernel().runs_here);
  BOOST_TEST_MESSAGE(cpu_info().describe() << ": " << default_tile_kernel().name << " ("
                                           << default_tile_kernel_reason() << ")");
#if defined(__x86_64__)
  BOOST_TEST(cpu_info().family > 0);
  BOOST_TEST(cpu_info().vendor != "unknown");
#endif
}

// The table, on made-up CPUs: it can only pick among the kernels this build compiled.
BOOST_AUTO_TEST_CASE(the_choice_follows_the_microarchitecture) {
  CpuInfo zen4{"AuthenticAMD", 0x19, 0x11, true, true, "Zen 4"};
  CpuInfo zen5{"AuthenticAMD", 0x1A, 0x02, true, true, "Zen 5"};
  CpuInfo zen2{"AuthenticAMD", 0x17, 0x31, true, false, "Zen, Zen+ or Zen 2"};
  CpuInfo skylake_x{"GenuineIntel", 6, 0x55, true, true, ""};
  namespace detail = gemm_detail;
#if FLOWTAPE_TILE_AVX512
  BOOST_TEST(detail::choose_tile_kernel(zen5).name == "avx512-8x32");
  BOOST_TEST(detail::choose_tile_kernel(skylake_x).name == "avx512-8x32");
  BOOST_TEST(detail::choose_tile_kernel(zen4).name == "avx2-6x16");
  BOOST_TEST(detail::choose_tile_kernel(zen4).reason.find("256-bit datapath") != std::string::npos);
#endif
#if FLOWTAPE_TILE_AVX2
  BOOST_TEST(detail::choose_tile_kernel(zen2).name == "avx2-6x16");
#endif
}

BOOST_AUTO_TEST_CASE(set_tile_kernel_uses_or_refuses_a_name) {
  const std::string before = tile_kernel().name;
  for (const std::string& name : runnable_kernels()) {
    const ScopedTileKernel use(name);
    BOOST_TEST(tile_kernel().name == name);
  }
  BOOST_TEST(tile_kernel().name == before);  // each scope put it back
  {
    const ScopedTileKernel use("auto");
    BOOST_TEST(tile_kernel().name == default_tile_kernel().name);
  }
  try {
    set_tile_kernel("avx9000-1x1");
    BOOST_FAIL("an unknown kernel was accepted");
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find("avx9000-1x1") != std::string::npos);
    BOOST_TEST(what.find(default_tile_kernel().name) != std::string::npos, what);
  }
  BOOST_TEST(tile_kernel().name == before);  // unchanged by the refusal
}

BOOST_AUTO_TEST_CASE(the_environment_names_the_kernel) {
  // The variable as the run found it, and the kernel in use, are put back at the end.
  const char* found = std::getenv("FLOWTAPE_GEMM_KERNEL");
  struct Restore {
    std::string value;
    bool was_set;
    std::string kernel;
    ~Restore() {
      if (was_set)
        ::setenv("FLOWTAPE_GEMM_KERNEL", value.c_str(), 1);
      else
        ::unsetenv("FLOWTAPE_GEMM_KERNEL");
      set_tile_kernel(kernel);
    }
  } restore{found ? found : "", found != nullptr, tile_kernel().name};
  const auto use_environment = [](const char* value) {
    ::setenv("FLOWTAPE_GEMM_KERNEL", value, 1);
    gemm_detail::forget_tile_kernel();
  };
  use_environment("auto");
  BOOST_TEST(tile_kernel().name == default_tile_kernel().name);
  // A kernel other than the automatic choice, so that an ignored variable would show.
  bool other_tested = false;
  for (const std::string& name : runnable_kernels()) {
    if (name == default_tile_kernel().name) continue;
    use_environment(name.c_str());
    BOOST_TEST(tile_kernel().name == name);
    other_tested = true;
  }
  if (!other_tested)
    BOOST_TEST_MESSAGE("only " << default_tile_kernel().name
                               << " runs here: the variable can only name the automatic choice");
  use_environment("fastest");
  BOOST_CHECK_THROW(tile_kernel(), std::invalid_argument);
  std::vector<float> a(64, 1.0f), c(64);
  BOOST_CHECK_THROW(
      gemm<float>(false, false, 8, 8, 8, 1.0f, a.data(), 8, a.data(), 8, 0.0f, c.data(), 8),
      std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
