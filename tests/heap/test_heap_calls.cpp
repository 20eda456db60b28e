// SPDX-License-Identifier: MIT
// Heap calls on the training hot path (issue 8: no per-op heap allocation). This program
// replaces the global operator new and delete (every form) to count the calls, so it is an
// executable of its own.
//
// What a step may still allocate is a fixed number of per-step objects (the gradient walk's
// adjoint table, the returned gradients, the dataset's draws); the tests check that the count
// does not grow with the number of ops, and that a recorded op on a warm tape makes none.
// Tensor storage is not counted here: it comes from the caching allocator
// (runtime/allocator.hpp), which reuses its blocks from step to step.
#define BOOST_TEST_MODULE flowtape_heap_calls
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <string>

#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/flows/datasets.hpp"
#include "flowtape/flows/losses.hpp"
#include "flowtape/flows/path.hpp"
#include "flowtape/kernels/cpu/parallel.hpp"
#include "flowtape/nn/grad_step.hpp"
#include "flowtape/nn/optimizer.hpp"
#include "flowtape/nn/velocity_mlp.hpp"
#include "flowtape/runtime/object_pool.hpp"
#include "support/threads.hpp"

namespace {
std::atomic<long> g_heap_calls{0};

void* counted_alloc(std::size_t n, std::size_t align) noexcept {
  g_heap_calls.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  if (align <= alignof(std::max_align_t)) return std::malloc(n);
  return std::aligned_alloc(align, (n + align - 1) / align * align);
}
void* counted_alloc_or_throw(std::size_t n, std::size_t align) {
  if (void* p = counted_alloc(n, align)) return p;
  throw std::bad_alloc();
}
constexpr std::size_t kPlain = alignof(std::max_align_t);
}  // namespace

// Every form allocates with malloc or aligned_alloc and frees with free, so they pair up
// whichever form a library calls. GCC cannot see that the memory a delete frees came from
// these news, and warns.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  return counted_alloc_or_throw(n, kPlain);
}
void* operator new[](std::size_t n) {
  return counted_alloc_or_throw(n, kPlain);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n, kPlain);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n, kPlain);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

namespace {

using namespace flowtape;

template <class F>
long heap_calls_of(F&& f) {
  const long before = g_heap_calls.load();
  f();
  return g_heap_calls.load() - before;
}

// Under AddressSanitizer the object pool is off (runtime/object_pool.hpp): every op then
// takes its handles from the heap, so that ASan sees each one, and these counts do not hold.
// (A plain function for the precondition, as in tests/support/gpu.hpp.)
boost::test_tools::assertion_result object_pool_on(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(FLOWTAPE_OBJECT_POOL != 0);
  if (!r) r.message() << "built with AddressSanitizer, which turns the object pool off";
  return r;
}

// The heap calls of `steps` training steps of a VelocityMLP with `depth` hidden layers (after
// warm-up steps that fill the caches), as in bench/flow_bench.cpp.
long heap_calls_per_steps(const std::string& loss, int depth, std::int64_t batch, int steps) {
  Generator gen(3);
  nn::VelocityMLPOptions mo;
  mo.time_embedding = nn::TimeEmbeddingKind::raw;
  nn::VelocityMLP model(2, 32, depth, gen, mo);
  const std::vector<Tensor> params = model.parameters();
  nn::Adam opt(params, nn::AdamOptions{});
  const flows::EightGaussians data(2.0, 0.1);
  const flows::Path path = flows::Path::rectified();
  const auto field = model.as_function();
  const auto step = [&] {
    const Tensor x0 = randn({batch, 2}, gen);
    const Tensor x1 = data.sample(batch, gen);
    const Tensor t = rand({batch, 1}, gen);
    const flows::PathSample ps = path.sample(x0, x1, t);
    auto [value, grads] = nn::loss_and_grad(params, [&] {
      if (loss == "fdm") return flows::fdm_loss(field, ps, t, gen).total;
      const Tensor v = model(ps.xt, t);
      if (loss == "cfm") return flows::cfm_loss(v, ps.ut);
      return flows::entropic_loss(flows::per_sample_loss(v, ps.ut), 0.3);
    });
    opt.step(grads);
  };
  for (int i = 0; i < 3; ++i) step();
  return heap_calls_of([&] {
    for (int i = 0; i < steps; ++i) step();
  });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(heap_calls, *boost::unit_test::precondition(&object_pool_on))

BOOST_AUTO_TEST_CASE(a_recorded_op_on_a_warm_tape_makes_no_heap_call) {
  Generator gen(1);
  const Tensor x = randn({16, 8}, gen), w = randn({4, 8}, gen), b = randn({4}, gen);
  const auto ops = [&] {
    Tensor h = linear_silu(x, w, b);
    h = mul(h, h) + h;
    return sum(concat({h, h}, 1), 0, false);
  };
  {  // warm-up: the node list's capacity, the allocator's size classes, the object pools
    Tape tape;
    tape.watch(std::vector<Tensor>{x, w, b});
    tape.gradient(sum(ops(), 0, false), {w});
  }
  Tape tape;
  tape.watch(std::vector<Tensor>{x, w, b});
  Tensor y;
  BOOST_TEST(heap_calls_of([&] { y = ops(); }) == 0);
  BOOST_TEST(tape.num_nodes() >= 5u);
}

BOOST_AUTO_TEST_CASE(a_jvp_makes_no_heap_call_per_op) {
  Generator gen(2);
  const Tensor x = randn({16, 8}, gen), v = randn({16, 8}, gen), w = randn({8, 8}, gen),
               b = randn({8}, gen);
  const auto chain = [&](int layers) {
    return [&, layers](const std::vector<Tensor>& in) {
      Tensor h = in[0];
      for (int i = 0; i < layers; ++i) h = silu(linear(h, w, b));
      return h;
    };
  };
  const std::vector<Tensor> at{x}, dir{v};
  const Function f2 = chain(2), f8 = chain(8);
  jvp(f2, at, dir);
  jvp(f8, at, dir);
  const long two = heap_calls_of([&] { jvp(f2, at, dir); });
  const long eight = heap_calls_of([&] { jvp(f8, at, dir); });
  BOOST_TEST(eight == two);
}

// Deeper models run more ops per step; the count must not follow them. With std::vector
// inputs (apply, the tape's nodes, the tangents) or std::function tasks (parallel_for), a
// step of 6 hidden layers made dozens more heap calls than one of 2.
BOOST_AUTO_TEST_CASE(training_steps_make_the_same_heap_calls_at_any_depth) {
  for (const int threads : {1, 2}) {
    const test::ScopedThreads scope(threads);
    // Batch 2048 x width 32 = 2^16 elements, where the maps and the fused layer go parallel.
    for (const std::string loss : {"cfm", "entropic", "fdm"}) {
      const long shallow = heap_calls_per_steps(loss, 2, 2048, 3);
      const long deep = heap_calls_per_steps(loss, 6, 2048, 3);
      BOOST_TEST_INFO(loss << ", " << threads << " thread(s): " << shallow << " heap calls in 3 "
                           << "steps at depth 2, " << deep << " at depth 6");
      BOOST_TEST(deep == shallow);
      // Per step: the walk's tables, the gradients, the draws (13, 15 and 18 when written).
      BOOST_TEST(deep <= 3 * 24);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
