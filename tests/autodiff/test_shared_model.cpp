// SPDX-License-Identifier: MIT
// Differentiation state belongs to tapes, not to tensors: two threads, each with its own tape,
// differentiate one shared set of parameters at once (watching writes nothing into them), and
// each gets the bits a single thread gets. scripts/tsan.sh runs this suite under
// ThreadSanitizer.
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <thread>
#include <vector>

#include "flowtape/autodiff/autodiff.hpp"

using namespace flowtape;

namespace {

// A SiLU network shared by every thread: the parameters are read, never written.
struct SharedModel {
  std::vector<Tensor> params;
  explicit SharedModel(Generator& g)
      : params{randn({16, 2}, g, DType::f64), randn({16}, g, DType::f64),
               randn({2, 16}, g, DType::f64) * 0.25, randn({2}, g, DType::f64)} {}
  Tensor operator()(const Tensor& x) const {
    return linear(silu(linear(x, params[0], params[1])), params[2], params[3]);
  }
};

// One step's gradients: a regression loss plus a divergence term from a JVP (reverse mode
// through forward mode, as the FDM loss has), on a tape of this thread's own.
std::vector<Tensor> gradients(const SharedModel& model, const Tensor& x, const Tensor& probe) {
  Tape tape;
  tape.watch(model.params);
  const auto [y, jv] = jvp([&](const Tensor& z) { return model(z); }, x, probe);
  const Tensor loss = mean(square(y - x)) + mean(square(sum(jv * probe, 1)));
  return tape.gradient(loss, model.params);
}

bool same_bits(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto va = a[i].to_vector(), vb = b[i].to_vector();
    if (va.size() != vb.size() ||
        std::memcmp(va.data(), vb.data(), va.size() * sizeof(double)) != 0)
      return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shared_model)

BOOST_AUTO_TEST_CASE(two_threads_differentiate_one_model_at_once) {
  Generator g(8);
  const SharedModel model(g);
  constexpr int kThreads = 2, kSteps = 20;
  std::vector<Tensor> xs, probes;
  std::vector<std::vector<Tensor>> expected;
  for (int i = 0; i < kThreads; ++i) {
    xs.push_back(randn({64, 2}, g, DType::f64));
    probes.push_back(randn({64, 2}, g, DType::f64));
    expected.push_back(gradients(model, xs.back(), probes.back()));
  }
  std::vector<int> matches(kThreads, 0);
  std::vector<std::thread> workers;
  for (int i = 0; i < kThreads; ++i)
    workers.emplace_back([&, i] {
      for (int step = 0; step < kSteps; ++step)
        matches[static_cast<std::size_t>(i)] += same_bits(
            gradients(model, xs[static_cast<std::size_t>(i)], probes[static_cast<std::size_t>(i)]),
            expected[static_cast<std::size_t>(i)]);
    });
  for (std::thread& w : workers) w.join();
  for (int i = 0; i < kThreads; ++i) BOOST_TEST(matches[static_cast<std::size_t>(i)] == kSteps);
  // Nothing was written into the shared parameters: no tape slot, no tangent.
  for (const Tensor& p : model.params) {
    BOOST_TEST(p.impl()->slot == -1);
    for (int k = 0; k < TensorImpl::kMaxJvpDepth; ++k) BOOST_TEST(!p.impl()->tangent(k).defined());
  }
}

BOOST_AUTO_TEST_SUITE_END()
