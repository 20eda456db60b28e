// SPDX-License-Identifier: MIT
// Optimizers against an independent oracle (tests/nn/reference_optimizers.py: PyTorch's update
// rules written out in plain Python), their state round trip, clipping and the EMA.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <tuple>

#include "flowtape/nn/nn.hpp"
#include "support/threads.hpp"

using namespace flowtape;
using namespace flowtape::nn;

namespace {

// f(p) = 0.5 * sum(a * (p - c)^2) from p0; the oracle uses the same constants.
const std::vector<double> kP0 = {1.0, -2.0, 0.5}, kA = {1.0, 3.0, 0.5}, kC = {0.2, 0.1, -0.3};

// v repeated to n elements. The update is elementwise, so element i of a run on the repeated
// constants must be the oracle's element i % 3.
std::vector<double> tiled(const std::vector<double>& v, std::size_t n) {
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = v[i % v.size()];
  return out;
}

std::vector<double> run(Optimizer& opt, Tensor& p, int steps = 3) {
  const std::size_t n = static_cast<std::size_t>(p.numel());
  const Tensor a = from_vector(tiled(kA, n), {p.numel()}, p.dtype()),
               c = from_vector(tiled(kC, n), {p.numel()}, p.dtype());
  for (int s = 0; s < steps; ++s) {
    auto [loss, grads] = loss_and_grad({p}, [&] { return 0.5 * sum(a * square(p - c)); });
    opt.step(grads);
  }
  return p.to_vector();
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  BOOST_TEST_REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    BOOST_TEST(std::abs(got[i] - want[i]) < tol,
               "element " << i << ": " << got[i] << " vs " << want[i]);
}

// Three elements go through the kernels' scalar tails only; 67 (more than two vectors of any
// width, and a ragged tail) through their vector loops as well.
template <class Opt, class Options>
void check_against_oracle(const Options& o, const std::vector<double>& want) {
  for (DType dt : {DType::f64, DType::f32})
    for (std::size_t n : {std::size_t{3}, std::size_t{67}}) {
      Tensor p = from_vector(tiled(kP0, n), {static_cast<std::int64_t>(n)}, dt);
      Opt opt({p}, o);
      const auto got = run(opt, p);
      BOOST_TEST_CONTEXT(dtype_name(dt) << ", " << n << " elements") {
        check_close(got, tiled(want, n), dt == DType::f64 ? 1e-12 : 1e-6);
      }
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(optimizers)

// Reference values: `python3 tests/nn/reference_optimizers.py` prints
//   sgd_momentum: {0.584032519, 0.6896662320000002, 0.2826040595}
//   sgd_nesterov: {0.46185679999999996, 0.8311633000000003, 0.2051701}
//   adam: {0.702220069505297, -1.7005866011435495, 0.2022200734293384}
//   adam_l2: {0.7021441055689737, -1.7005877217859255, 0.2024566633848751}
//   adamw: {0.675848172381985, -1.6443210672264954, 0.19051621545980085}
BOOST_AUTO_TEST_CASE(sgd_momentum_matches_oracle) {
  SGDOptions o;
  o.lr = 0.1, o.momentum = 0.9, o.weight_decay = 0.01;
  check_against_oracle<SGD>(o, {0.584032519, 0.6896662320000002, 0.2826040595});
  o.weight_decay = 0, o.nesterov = true;
  check_against_oracle<SGD>(o, {0.46185679999999996, 0.8311633000000003, 0.2051701});
  o.momentum = 0;
  BOOST_CHECK_THROW(SGD({zeros({1})}, o), std::invalid_argument);  // Nesterov needs momentum
}

BOOST_AUTO_TEST_CASE(adam_matches_oracle) {
  AdamOptions o;
  o.lr = 0.1;
  check_against_oracle<Adam>(o, {0.702220069505297, -1.7005866011435495, 0.2022200734293384});
  o.weight_decay = 0.1;  // L2, added to the gradient
  check_against_oracle<Adam>(o, {0.7021441055689737, -1.7005877217859255, 0.2024566633848751});
}

BOOST_AUTO_TEST_CASE(adamw_matches_oracle) {
  AdamWOptions o;
  BOOST_TEST(o.weight_decay == 1e-2);  // PyTorch's defaults
  BOOST_TEST(o.lr == 1e-3);
  BOOST_TEST(o.eps == 1e-8);
  o.lr = 0.1, o.weight_decay = 0.1;  // decoupled
  check_against_oracle<AdamW>(o, {0.675848172381985, -1.6443210672264954, 0.19051621545980085});
}

BOOST_AUTO_TEST_CASE(state_round_trip_is_exact) {
  Tensor p = from_vector(kP0, {3}, DType::f64);
  Adam opt({p}, AdamOptions{0.1});
  run(opt, p, 2);
  const NamedTensors st = opt.state();
  BOOST_TEST(st.size() == 3u);  // step, exp_avg.0, exp_avg_sq.0
  BOOST_TEST(st[0].first == "step");
  BOOST_TEST(st[0].second.item() == 2.0);
  const Tensor p_saved = copy(p);

  // Continue 1 step; then restore a fresh optimizer + parameter and do the same step.
  const auto direct = run(opt, p, 1);
  Tensor q = copy(p_saved);
  Adam restored({q}, AdamOptions{0.1});
  restored.load_state(st);
  BOOST_TEST(restored.steps() == 2);
  const auto resumed = run(restored, q, 1);
  BOOST_TEST(std::memcmp(direct.data(), resumed.data(), direct.size() * sizeof(double)) == 0);

  NamedTensors bad = st;
  bad[1].second = zeros({4}, DType::f64);
  BOOST_CHECK_EXCEPTION(restored.load_state(bad), std::invalid_argument,
                        [](const std::exception& e) {
                          return std::string(e.what()).find("'exp_avg.0'") != std::string::npos;
                        });
}

// Moments read from a file are checked before anything is written: a NaN, an infinity or a
// negative second moment would make its parameter NaN at the first step, far from the file.
BOOST_AUTO_TEST_CASE(corrupt_moments_are_refused) {
  Tensor p = from_vector(kP0, {3}, DType::f64);
  Adam opt({p}, AdamOptions{0.1});
  run(opt, p, 2);
  const NamedTensors good = opt.state();
  const auto says = [](const std::string& part) {
    return [part](const std::exception& e) {
      return std::string(e.what()).find(part) != std::string::npos;
    };
  };
  Tensor q = copy(p);
  Adam fresh({q}, AdamOptions{0.1});
  for (const auto& [index, value, message] :
       {std::tuple{1, std::nan(""), "'exp_avg.0' holds nan at flat index 1; expected finite"},
        std::tuple{2, -1e-3,
                   "'exp_avg_sq.0' holds -0.001 at flat index 1; expected finite "
                   "values >= 0"},
        std::tuple{2, HUGE_VAL, "'exp_avg_sq.0' holds inf at flat index 1"}}) {
    NamedTensors bad = good;
    std::vector<double> v = bad[index].second.to_vector();
    v[1] = value;
    bad[index].second = from_vector(v, {3}, DType::f64);
    BOOST_CHECK_EXCEPTION(fresh.load_state(bad), std::invalid_argument, says(message));
    BOOST_TEST(fresh.steps() == 0);  // nothing was written
  }
  NamedTensors negative_first_moment = good;  // exp_avg may be negative
  negative_first_moment[1].second =
      from_vector(std::vector<double>{-1.0, -2.0, -3.0}, {3}, DType::f64);
  fresh.load_state(negative_first_moment);
  BOOST_TEST(fresh.steps() == 2);
}

// A tensor listed twice would be updated twice a step (with two sets of moments).
BOOST_AUTO_TEST_CASE(a_parameter_listed_twice_is_refused) {
  const Tensor p = zeros({3}), q = zeros({3});
  BOOST_CHECK_EXCEPTION(Adam({p, q, p}, AdamOptions{}), std::invalid_argument,
                        [](const std::exception& e) {
                          return std::string(e.what()) ==
                                 "optimizer: parameter 2 is parameter 0 again; each would be "
                                 "updated twice a step";
                        });
  BOOST_CHECK_NO_THROW(SGD({p, q}));
}

BOOST_AUTO_TEST_CASE(step_validates_gradients) {
  Tensor p = zeros({3});
  SGD opt({p});
  BOOST_CHECK_THROW(opt.step({zeros({4})}), std::invalid_argument);
  BOOST_CHECK_THROW(opt.step({zeros({3}, DType::f64)}), std::invalid_argument);
  BOOST_CHECK_THROW(opt.step({}), std::invalid_argument);
}

// Hyperparameters that would poison the weights without a word are refused.
BOOST_AUTO_TEST_CASE(hyperparameters_are_checked) {
  const auto params = [] { return std::vector<Tensor>{zeros({2})}; };
  BOOST_CHECK_THROW(Adam(params(), AdamOptions{.lr = INFINITY}), std::invalid_argument);
  BOOST_CHECK_THROW(Adam(params(), AdamOptions{.eps = 0}), std::invalid_argument);
  BOOST_CHECK_THROW(Adam(params(), AdamOptions{.weight_decay = -1}), std::invalid_argument);
  BOOST_CHECK_THROW(SGD(params(), SGDOptions{.momentum = std::nan("")}), std::invalid_argument);
  BOOST_CHECK_THROW(SGD(params(), SGDOptions{.weight_decay = -0.1}), std::invalid_argument);
  Adam opt(params(), AdamOptions{});
  BOOST_CHECK_THROW(opt.set_lr(std::nan("")), std::invalid_argument);
  BOOST_CHECK_THROW(opt.set_lr(-1e-3), std::invalid_argument);
  opt.set_lr(0.5);
  BOOST_TEST(opt.lr() == 0.5);
  BOOST_CHECK_THROW(LayerNorm(4, 0.0), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(clip_grad_norm_pytorch_semantics) {
  std::vector<Tensor> g = {from_vector(std::vector<double>{3, 0}, {2}, DType::f64),
                           from_vector(std::vector<double>{4}, {1}, DType::f64)};
  const Tensor original = g[0];
  BOOST_TEST(clip_grad_norm(g, 10.0) == 5.0);  // under the limit: unchanged
  BOOST_TEST(g[0].at(0) == 3.0);
  BOOST_TEST(clip_grad_norm(g, 1.0) == 5.0);  // returns the norm before clipping
  const double coef = 1.0 / (5.0 + 1e-6);
  BOOST_TEST(std::abs(g[0].at(0) - 3 * coef) < 1e-15);
  BOOST_TEST(std::abs(g[1].at(0) - 4 * coef) < 1e-15);
  BOOST_TEST(original.at(0) == 3.0);  // the old buffer is not written
  // A NaN gradient makes the norm NaN, and every gradient NaN (PyTorch's clamp(NaN) * g): the
  // finite one is not left unclipped beside it.
  std::vector<Tensor> broken = {from_vector(std::vector<double>{NAN}, {1}, DType::f64),
                                from_vector(std::vector<double>{100}, {1}, DType::f64)};
  BOOST_TEST(std::isnan(clip_grad_norm(broken, 1.0)));
  BOOST_TEST(std::isnan(broken[1].at(0)));
  // An infinite entry makes the norm infinite and the scale 0: finite gradients become 0 (not
  // left unclipped), the infinite entry NaN (inf * 0).
  std::vector<Tensor> overflowing = {from_vector(std::vector<double>{INFINITY}, {1}, DType::f64),
                                     from_vector(std::vector<double>{100}, {1}, DType::f64)};
  BOOST_TEST(std::isinf(clip_grad_norm(overflowing, 1.0)));
  BOOST_TEST(std::isnan(overflowing[0].at(0)));
  BOOST_TEST(overflowing[1].at(0) == 0.0);
}

BOOST_AUTO_TEST_CASE(ema_average_and_copy) {
  Tensor p = from_vector(std::vector<double>{1.0, 2.0}, {2}, DType::f64);
  EMA ema({p}, 0.9);
  p.mutable_data<double>()[0] = 11.0;
  ema.update({p});  // 0.9 * 1 + 0.1 * 11 = 2
  BOOST_TEST(std::abs(ema.shadow()[0].at(0) - 2.0) < 1e-15);
  BOOST_TEST(ema.shadow()[0].at(1) == 2.0);
  ema.copy_to({p});
  BOOST_TEST(std::abs(p.at(0) - 2.0) < 1e-15);
  EMA other({p}, 0.9);
  other.load_state(ema.state());
  BOOST_TEST(other.shadow()[0].to_vector() == ema.shadow()[0].to_vector(),
             boost::test_tools::per_element());
  BOOST_CHECK_THROW(ema.update({p, p}), std::invalid_argument);
  // Another model's average, with a tensor more, is refused, not truncated.
  NamedTensors longer = ema.state();
  longer.emplace_back("ema.1", copy(p));
  BOOST_CHECK_THROW(other.load_state(longer), std::invalid_argument);
}

// A large parameter's update is split over the thread pool: two threads must give the bits
// of one (the chunks start at multiples of 64, so the scalar tail is the same elements).
BOOST_AUTO_TEST_CASE(adam_threads_give_identical_bits) {
  const std::int64_t n = (std::int64_t{1} << 17) + 13;
  std::vector<float> results[2];
  for (const int threads : {1, 2}) {
    const test::ScopedThreads scope(threads);
    Generator gen(5);
    Tensor p = randn({n}, gen);
    AdamW opt({p}, AdamWOptions{1e-2, 0.9, 0.999, 1e-8, 0.01});
    for (int s = 0; s < 3; ++s) opt.step({randn({n}, gen)});
    const float* d = p.data<float>();
    results[threads - 1].assign(d, d + n);
  }
  BOOST_TEST(std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4) == 0);
  Generator gen(5);
  BOOST_TEST(results[0][7] != randn({n}, gen).data<float>()[7]);  // the update did something
}

BOOST_AUTO_TEST_SUITE_END()
