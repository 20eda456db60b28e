// SPDX-License-Identifier: MIT
// Tape semantics and misuse: recording rules, NoGrad, stop_gradient, flat memory over many
// steps, and the errors users see (each names the shapes or dtypes involved).
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>

#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/autodiff/op.hpp"
#include "support/gradcheck.hpp"

using namespace flowtape;

namespace {

// Resident set size in bytes, from /proc/self/statm.
long resident_bytes() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A primitive written outside the library, with two outputs and a residual: sin x, cos x,
// and x^2 (read by nothing; there to show a residual gets no slot). The rules read the
// outputs: d sin = cos dx, d cos = -sin dx.
const OpDef kSinCos{.name = "sincos",
                    .shape = [](Inputs in, const Attrs&) { return in[0].shape(); },
                    .forward =
                        [](Inputs in, const Attrs&, Outputs out) {
                          out[1] = empty(in[0].shape(), DType::f64);
                          out[2] = empty(in[0].shape(), DType::f64);
                          for (std::int64_t i = 0; i < in[0].numel(); ++i) {
                            const double x = in[0].data<double>()[i];
                            out[0].mutable_data<double>()[i] = std::sin(x);
                            out[1].mutable_data<double>()[i] = std::cos(x);
                            out[2].mutable_data<double>()[i] = x * x;
                          }
                        },
                    .jvp = [](const Saved& s, Inputs t) -> TensorList {
                      return {s.out[1] * t[0], -(s.out[0] * t[0])};
                    },
                    .vjp =
                        [](const Saved& s, Inputs g, Grads& out) {
                          Tensor gx;
                          if (g[0].defined()) gx = g[0] * s.out[1];
                          if (g[1].defined())
                            gx = gx.defined() ? gx - g[1] * s.out[0] : -(g[1] * s.out[0]);
                          out[0] = gx;
                        },
                    .outputs = 2,
                    .residuals = 1};

}  // namespace

BOOST_AUTO_TEST_SUITE(tape)

BOOST_AUTO_TEST_CASE(records_only_what_depends_on_watched_tensors) {
  Generator g(1);
  const Tensor w = randn({3, 3}, g), x = randn({4, 3}, g);
  Tape tape;
  const Tensor unrelated = exp(x);  // nothing watched yet: not recorded
  BOOST_TEST(tape.num_nodes() == 0u);
  tape.watch(w);
  const Tensor y = matmul(unrelated, w);
  BOOST_TEST(tape.num_nodes() == 1u);
  BOOST_TEST(tape.tracks(y));
  BOOST_TEST(!tape.tracks(unrelated));
  {
    NoGrad no_grad;
    const Tensor z = y * 2.0;
    BOOST_TEST(!tape.tracks(z));
  }
  BOOST_TEST(!tape.tracks(stop_gradient(y)));
  BOOST_TEST(tape.tracks(y * 2.0));
}

// A tensor watched after an op used it was a constant to that op (watch first), whether or not
// the op also read a tensor watched before: the gradient does not flow back through it.
BOOST_AUTO_TEST_CASE(a_tensor_watched_later_was_a_constant_before) {
  const Tensor a = full({2}, 3.0, DType::f64), b = full({2}, 5.0, DType::f64);
  Tape tape;
  tape.watch(a);
  const Tensor y = a * b;  // recorded: a is tracked, b a constant here
  tape.watch(b);
  const std::vector<Tensor> g = tape.gradient(sum(y + b), std::vector<Tensor>{a, b});
  BOOST_TEST(g[0].to_vector() == (std::vector<double>{5, 5}));  // d/da: b
  BOOST_TEST(g[1].to_vector() == (std::vector<double>{1, 1}));  // d/db: only through y + b
  // The listing and the drawing show b as the constant the walk takes it for.
  const std::string listing = tape.dump();
  BOOST_TEST(listing.find("mul(%0, const") != std::string::npos, listing);
  const std::string dot = tape.to_dot();
  BOOST_TEST(dot.find("s2 -> s1") == std::string::npos, dot);  // b's slot is 2, y's 1
  BOOST_TEST(dot.find("s2 -> s3") != std::string::npos, dot);  // y + b: b tracked there
}

BOOST_AUTO_TEST_CASE(gradient_of_unused_input_is_zero_and_stop_gradient_blocks) {
  const Tensor a = scalar(2.0, DType::f64), b = scalar(3.0, DType::f64);
  Tape tape;
  tape.watch(a);
  tape.watch(b);
  const Tensor y = a * stop_gradient(a) * 5.0;
  const auto g = tape.gradient(y, {a, b});
  BOOST_TEST(g[0].item() == 10.0);  // d/da (a * const) with const = a = 2
  BOOST_TEST(g[1].item() == 0.0);
}

BOOST_AUTO_TEST_CASE(reused_tensor_accumulates) {
  const Tensor x = scalar(1.5, DType::f64);
  const Tensor g = grad([](const Tensor& z) { return z * z * z + z; }, x);
  BOOST_TEST(std::abs(g.item() - (3 * 2.25 + 1)) < 1e-14);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif

// 10,000 small training steps: each step's tape is freed, so memory stays flat. Two gauges:
// the bytes held by tensor storage (exact, in every build) and the resident set size (not
// under AddressSanitizer, whose quarantine keeps freed memory resident on purpose).
BOOST_AUTO_TEST_CASE(memory_is_flat_over_many_steps) {
  Generator g(5);
  Tensor w1 = randn({2, 32}, g) * 0.5f, b1 = zeros({32}), w2 = randn({32, 2}, g) * 0.2f;
  const Tensor x = randn({64, 2}, g), target = randn({64, 2}, g);
  auto step = [&]() {
    Tape tape;
    tape.watch(w1);
    tape.watch(b1);
    tape.watch(w2);
    const Tensor loss = mean(square(matmul(tanh(matmul(x, w1) + b1), w2) - target));
    const auto grads = tape.gradient(loss, {w1, b1, w2});
    NoGrad no_grad;
    w1 = copy(w1 - grads[0] * 0.01);
    b1 = copy(b1 - grads[1] * 0.01);
    w2 = copy(w2 - grads[2] * 0.01);
    return loss.item();
  };
  const double first = step();
  for (int i = 0; i < 1000; ++i) step();
  const long before = resident_bytes();
  const std::size_t live_before = live_storage_bytes();
  double last = 0;
  for (int i = 0; i < 9000; ++i) last = step();
  const long growth = resident_bytes() - before;
  BOOST_TEST(live_storage_bytes() == live_before);
  BOOST_TEST_MESSAGE("resident growth over 9000 steps: " << growth / 1024 << " KiB");
  if (kAddressSanitizer)
    BOOST_TEST_MESSAGE("resident-set check skipped: AddressSanitizer's quarantine holds freed memory");
  else
    BOOST_TEST(growth < 8L * 1024 * 1024);
  BOOST_TEST(last < first);  // and it trained
}

BOOST_AUTO_TEST_CASE(misuse_is_reported_clearly) {
  const Tensor a = zeros({2, 3}), b = zeros({4, 5});
  std::string e = error_of([&] { matmul(a, b); });
  BOOST_TEST(contains(e, "[2, 3]"), e);
  BOOST_TEST(contains(e, "[4, 5]"), e);
  BOOST_TEST(contains(e, "inner dimensions 3 and 4"), e);

  e = error_of([&] { add(zeros({2, 3}), zeros({4})); });
  BOOST_TEST(contains(e, "cannot broadcast shapes [2, 3] and [4]"), e);

  e = error_of([&] { add(zeros({2}, DType::f32), zeros({2}, DType::f64)); });
  BOOST_TEST(contains(e, "dtype mismatch"), e);
  BOOST_TEST((contains(e, "f32") && contains(e, "f64")), e);

  e = error_of([&] { grad([](const Tensor& z) { return z * 2.0; }, zeros({3})); });
  BOOST_TEST(contains(e, "not a scalar"), e);
  BOOST_TEST(contains(e, "[3]"), e);

  e = error_of([&] { zeros({2}, DType::f64).data<float>(); });
  BOOST_TEST(contains(e, "dtype f64"), e);

  e = error_of([&] { reshape(zeros({2, 3}), {4, 2}); });
  BOOST_TEST((contains(e, "[2, 3]") && contains(e, "[4, 2]")), e);

  e = error_of([&] { sum(zeros({2, 3}), 2); });
  BOOST_TEST((contains(e, "axis 2") && contains(e, "[2, 3]")), e);

  e = error_of([&] { slice(zeros({4, 3}), 0, 2, 9); });
  BOOST_TEST((contains(e, "[2, 9)") && contains(e, "[4, 3]")), e);

  e = error_of([&] { jvp([](const Tensor& z) { return z; }, zeros({3}), zeros({4})); });
  BOOST_TEST((contains(e, "[4]") && contains(e, "[3]")), e);

  e = error_of([&] {
    Tape t1;
    Tape t2;
  });
  BOOST_TEST(contains(e, "already active"), e);

  e = error_of([&] {
    Tape t;
    const Tensor x = zeros({2});
    t.gradient(sum(x), {x});
  });
  BOOST_TEST(contains(e, "not watched"), e);

  // jvp nests, up to TensorImpl::kMaxJvpDepth deep.
  std::function<Tensor(const Tensor&, int)> nest = [&](const Tensor& z, int depth) -> Tensor {
    if (depth == 0) return z * z;
    return jvp([&](const Tensor& q) { return nest(q, depth - 1); }, z, ones_like(z)).second;
  };
  BOOST_TEST(nest(scalar(3.0), TensorImpl::kMaxJvpDepth).item() == 0.0);
  BOOST_TEST(nest(scalar(3.0), 2).item() == 2.0);
  e = error_of([&] { nest(scalar(3.0), TensorImpl::kMaxJvpDepth + 1); });
  BOOST_TEST(contains(e, "nests up to 4"), e);
}

// The verbs transform f whatever the recording state: inside NoGrad grad, vjp,
// value_and_grad and hvp differentiate f (they returned zeros before), as jvp always did, and
// NoGrad still keeps the caller's own tape from recording.
BOOST_AUTO_TEST_CASE(verbs_differentiate_inside_nograd) {
  const Tensor x = full({3}, 0.5, DType::f64);
  auto f = [](const Tensor& z) { return sum(sin(z)); };
  auto check = [&] {
    BOOST_TEST(grad(f, x).at(0) == std::cos(0.5), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(vjp(f, x, scalar(2.0, DType::f64)).at(1) == 2 * std::cos(0.5),
               boost::test_tools::tolerance(1e-12));
    const Function fs = [&](const std::vector<Tensor>& z) { return f(z[0]); };
    BOOST_TEST(value_and_grad(fs, {x}).second[0].at(2) == std::cos(0.5),
               boost::test_tools::tolerance(1e-12));
    BOOST_TEST(hvp(f, x, ones_like(x)).at(0) == -std::sin(0.5),
               boost::test_tools::tolerance(1e-12));
    BOOST_TEST(jvp(f, x, ones_like(x)).second.item() == 3 * std::cos(0.5),
               boost::test_tools::tolerance(1e-12));
  };
  {
    NoGrad no_grad;
    check();
  }
  Tape tape;
  const Tensor w = tape.watch(full({3}, 1.0, DType::f64));
  {
    NoGrad no_grad;
    check();
    BOOST_TEST(!tape.tracks(w * 2.0));  // the caller's tape still records nothing here
    // Nor does a verb record on it: its result is a constant there, and the tape has no new
    // nodes (value_and_grad of the watched w recorded onto the caller's tape before).
    const std::size_t nodes = tape.num_nodes();
    const Function fs = [](const std::vector<Tensor>& z) { return sum(square(z[0])); };
    const Tensor v = value_and_grad(fs, {w}).first;
    BOOST_TEST(tape.num_nodes() == nodes);
    BOOST_TEST(!tape.tracks(v));
  }
}

// A tensor a node keeps, written in place after the node was recorded (as PyTorch's version
// counter catches): the backward pass refuses, naming the op, the role and the tensor; reading
// through data() is not a write, and writing a tensor no node keeps is harmless.
BOOST_AUTO_TEST_CASE(a_recorded_tensor_written_in_place_is_refused) {
  Generator gen(4);
  const Tensor x = randn({3, 2}, gen);
  Tensor c = randn({3, 2}, gen);
  {
    Tape tape;
    tape.watch(x);
    const Tensor y = sum(x * c);
    c.mutable_data<float>()[0] = 5.0f;  // c is input 1 of mul
    const std::string e = error_of([&] { tape.gradient(y, {x}); });
    BOOST_TEST(contains(e, "input 1 of the recorded op 'mul'"), e);
    BOOST_TEST(contains(e, "[3, 2]"), e);
    BOOST_TEST(contains(e, "written in place"), e);
  }
  {
    Tape tape;
    tape.watch(x);
    Tensor y = exp(x);  // exp's rule reads its output
    const Tensor loss = sum(y * c);
    y.mutable_data<float>()[1] = 0.0f;
    const std::string e = error_of([&] { tape.gradient(loss, {x}); });
    BOOST_TEST(contains(e, "of the recorded op 'mul'"), e);  // the last node that keeps y
    BOOST_TEST(contains(e, "slot %1"), e);
  }
  {
    Tape tape;
    tape.watch(x);
    Tensor y = tanh(x);
    const float first = y.data<float>()[0];  // a read, on a non-const handle
    Tensor unrelated = zeros({4});
    unrelated.mutable_data<float>()[0] = first;  // a write no node sees
    const Tensor g = tape.gradient(sum(y), {x})[0];
    BOOST_TEST(std::abs(g.at(0) - (1.0 - first * first)) < 1e-6);
  }
}

// Watched tensors' slots live in the tape: past kManyLeaves of them it indexes them, and every
// one still gets its gradient; a watched tensor that a jvp() returns as it is stays connected.
BOOST_AUTO_TEST_CASE(many_watched_tensors_and_a_watched_jvp_output) {
  std::vector<Tensor> ws;
  for (int i = 0; i < 100; ++i) ws.push_back(full({2}, 0.5 * i, DType::f64));
  {
    Tape tape;
    tape.watch(ws);
    Tensor y = scalar(0.0, DType::f64);
    for (int i = 0; i < 100; ++i) y = y + sum(ws[static_cast<std::size_t>(i)] * double(i));
    const auto g = tape.gradient(y, ws);
    bool all = true;
    for (int i = 0; i < 100; ++i)
      all &= g[static_cast<std::size_t>(i)].to_vector() == std::vector<double>(2, double(i));
    BOOST_TEST(all);
  }
  Tape tape;
  const Tensor w = scalar(3.0, DType::f64), x = scalar(2.0, DType::f64);
  tape.watch(w);
  const FunctionN f = [&](const std::vector<Tensor>& a) {
    return std::vector<Tensor>{a[0] * w, w};
  };
  const auto [ys, dys] = jvp(f, {x}, {scalar(1.0, DType::f64)});
  BOOST_TEST(tape.tracks(ys[1]));
  BOOST_TEST(tape.gradient(ys[0] + ys[1] * 5.0, {w})[0].item() == 7.0);
  BOOST_TEST(dys[1].item() == 0.0);
}

// The engine has no op-specific code: a primitive defined by a user, of several outputs, is
// recorded as one node, differentiated in every mode (each output alone, both, and to second
// order) and refused by apply(), which returns one output.
BOOST_AUTO_TEST_CASE(a_user_primitive_with_several_outputs) {
  Generator gen(3);
  const Tensor x = randn({4, 3}, gen, DType::f64), a = randn({4, 3}, gen, DType::f64);
  for (int use = 0; use < 3; ++use)
    flowtape::test::check_gradients("sincos " + std::to_string(use),
                                    [=](auto& p) {
                                      const TensorList r = apply_all(kSinCos, {p[0]});
                                      return use == 0 ? r[0] : use == 1 ? r[1] : r[0] * a + r[1];
                                    },
                                    {x});
  flowtape::test::check_gradients(
      "grad of sincos",
      [](auto& p) {
        return grad([](const Tensor& z) { return sum(apply_all(kSinCos, {z})[0] * z); }, p[0]);
      },
      {x});
  Tape tape;
  tape.watch(x);
  const TensorList r = apply_all(kSinCos, {x});
  BOOST_TEST(tape.num_nodes() == 1u);
  BOOST_TEST(tape.tracks(r[0]));
  BOOST_TEST(tape.tracks(r[1]));
  BOOST_TEST(!tape.tracks(r[2]));  // the residual
  BOOST_TEST(contains(tape.dump(), "%1, %2 = sincos(%0) -> [4, 3] f64, [4, 3] f64"));
  BOOST_TEST(contains(error_of([&] { apply(kSinCos, {x}); }), "apply_all"));
}

BOOST_AUTO_TEST_SUITE_END()
