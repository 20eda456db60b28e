// SPDX-License-Identifier: MIT
// Tensor creation, data layout, shape ops' values, and the xtensor bridge.
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <thread>
#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/autodiff/op.hpp"
#include "flowtape/autodiff/op_list.hpp"
#include "flowtape/runtime/allocator.hpp"
#include "flowtape/runtime/xtensor.hpp"

using namespace flowtape;

namespace {
std::vector<double> vals(const Tensor& t) { return t.to_vector(); }
}  // namespace

BOOST_AUTO_TEST_SUITE(tensor)

BOOST_AUTO_TEST_CASE(creation) {
  BOOST_TEST(zeros({2, 3}).shape() == (Shape{2, 3}));
  BOOST_TEST(zeros({2, 3}).dtype() == DType::f32);
  BOOST_TEST(ones({4}, DType::f64).to_vector() == std::vector<double>(4, 1.0));
  BOOST_TEST(full({2}, 2.5).to_vector() == (std::vector<double>{2.5, 2.5}));
  BOOST_TEST(arange(4).to_vector() == (std::vector<double>{0, 1, 2, 3}));
  BOOST_TEST(arange(1.0, 2.0, 0.25, DType::f64).to_vector() == (std::vector<double>{1, 1.25, 1.5, 1.75}));
  // Counts that do not fit an extent are refused before they are converted (undefined
  // behaviour before, and a misleading "extents must be >= 0").
  BOOST_CHECK_THROW(arange(-1e308, 1e308), std::length_error);
  BOOST_CHECK_THROW(arange(0.0, 1.0, 1e-30), std::length_error);
  BOOST_CHECK_THROW(arange(std::numeric_limits<std::int64_t>::max()), std::length_error);
  BOOST_TEST(scalar(3.0).rank() == 0);
  BOOST_TEST(scalar(3.0).item() == 3.0);
  BOOST_TEST(zeros({0, 3}).numel() == 0);
  const std::vector<double> v = {1, 2, 3, 4, 5, 6};
  const Tensor t = from_vector(v, {2, 3}, DType::f64);
  BOOST_TEST(t.at(4) == 5.0);
  BOOST_CHECK_THROW(from_vector(v, {4, 2}), std::invalid_argument);
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(t.raw_data()) % 64 == 0u);
  BOOST_TEST(to_dtype(t, DType::f32).dtype() == DType::f32);
  BOOST_TEST(to_dtype(t, DType::f32).to_vector() == v);
}

// empty() checks the byte count: a shape whose size wraps std::size_t is refused, while a
// shape with a zero extent holds no bytes whatever its other extents (the safetensors fuzzer's
// [2^61 - 1, 4, 0]).
BOOST_AUTO_TEST_CASE(creation_checks_the_byte_count) {
  const std::int64_t huge = (std::int64_t{1} << 61) - 1;
  const Tensor none = empty(Shape{huge, 4, 0});
  BOOST_TEST(none.numel() == 0);
  BOOST_TEST(none.nbytes() == 0);
  BOOST_CHECK_THROW(empty(Shape{huge, 4, 1}), std::length_error);
  BOOST_CHECK_THROW(empty(Shape{huge, 3}, DType::f64), std::length_error);
  // Sizes whose bytes fit std::size_t but exceed PTRDIFF_MAX: the allocator's size classes
  // wrapped them to a 0-byte block, which zeros() then overran.
  const std::int64_t wraps = (std::int64_t{1} << 62) - 1;
  BOOST_CHECK_THROW(zeros(Shape{wraps}), std::length_error);
  BOOST_CHECK_THROW(broadcast_to(ones({1}), Shape{wraps}), std::length_error);
  BOOST_CHECK_THROW(
      matmul(zeros({std::int64_t{1} << 31, 0}), zeros({0, (std::int64_t{1} << 31) - 1})),
      std::length_error);
  // Element counts past int64 are refused, not wrapped.
  BOOST_CHECK_THROW(reshape(zeros({0}), Shape{std::int64_t{1} << 32, std::int64_t{1} << 32}),
                    std::exception);
  BOOST_CHECK_THROW((Shape{std::int64_t{1} << 32, std::int64_t{1} << 32}.numel()),
                    std::length_error);
  BOOST_CHECK_THROW(reshape(zeros({4}), {-1, std::int64_t{1} << 62, 8}), std::invalid_argument);
}

// Bad arguments are refused with an error, through the wrappers and through apply() with
// hand-made Attrs alike (the shape rules check them), never read or written out of bounds.
BOOST_AUTO_TEST_CASE(bad_shape_arguments_are_refused) {
  BOOST_CHECK_THROW(Shape({2, 3})[-1], std::out_of_range);
  BOOST_CHECK_THROW(Shape({2, 3})[2], std::out_of_range);
  BOOST_CHECK_THROW(pad(ones({1}), 0, INT64_MAX, 4), std::invalid_argument);
  Attrs a;
  a.shape = Shape{1000};
  BOOST_CHECK_THROW(apply(op_reshape, {zeros({2})}, a), std::invalid_argument);
  BOOST_CHECK_THROW(apply(op_broadcast_to, {zeros({2})}, a), std::invalid_argument);
  BOOST_CHECK_THROW(apply(op_sum_to, {zeros({2})}, a), std::invalid_argument);
  Attrs s;
  s.axis = 0;
  s.start = 1;
  s.count = 5;
  BOOST_CHECK_THROW(apply(op_slice, {zeros({4})}, s), std::invalid_argument);
  s.axis = -1;
  s.count = 1;
  BOOST_CHECK_THROW(apply(op_slice, {zeros({4})}, s), std::exception);
  Attrs p;
  p.axis = 0;
  p.start = 3;
  p.length = 4;
  BOOST_CHECK_THROW(apply(op_pad, {zeros({2})}, p), std::invalid_argument);
  Attrs q;
  q.perm = Shape{0, 0};
  BOOST_CHECK_THROW(apply(op_permute, {zeros({2, 2})}, q), std::invalid_argument);
  Attrs r;
  r.axis = -1;
  BOOST_CHECK_THROW(apply(op_sum, {zeros({2, 2})}, r), std::exception);
  Shape negative{2, 3};
  negative[0] = -2;
  negative[1] = -3;
  BOOST_CHECK_THROW(reshape(ones({6}), negative), std::invalid_argument);
  // An inner extent of 0: a [2, 3, 0] @ [0, 4] product is zeros [2, 3, 4] (numel / k divided
  // by zero before).
  const Tensor z = matmul(zeros({2, 3, 0}), zeros({0, 4}));
  BOOST_TEST(z.shape() == (Shape{2, 3, 4}));
  BOOST_TEST(z.to_vector() == std::vector<double>(24, 0.0));
  BOOST_CHECK_THROW(alias(Tensor()), std::invalid_argument);
  Tensor undefined;
  BOOST_CHECK_THROW(relocate(undefined, Device::cpu), std::invalid_argument);
  BOOST_CHECK_THROW(pow(arange(3, DType::i64), 0.0), std::invalid_argument);
  BOOST_CHECK_THROW(pow(arange(3, DType::i64), 1.0), std::invalid_argument);
  // Empty results of broadcasting ops: an outer extent of 0 once let one row through, written
  // past the output's block (the address sanitizer sees it).
  BOOST_TEST(broadcast_to(ones({1, 17}), Shape{0, 17}).numel() == 0);
  BOOST_TEST((zeros({0, 256}) + ones({256})).shape() == (Shape{0, 256}));
  BOOST_TEST(matmul(zeros({0, 4, 20}), zeros({20, 5})).shape() == (Shape{0, 4, 5}));
}

// argmax in f64 indexes exactly past 2^24 (its positions were made in f32).
BOOST_AUTO_TEST_CASE(argmax_is_exact_in_f64_past_two_to_the_24) {
  const std::int64_t n = (std::int64_t{1} << 24) + 2;
  Tensor x = zeros({n}, DType::f64);
  x.mutable_data<double>()[n - 1] = 1.0;
  BOOST_TEST(argmax(x, 0, false).item() == static_cast<double>(n - 1));
}

BOOST_AUTO_TEST_CASE(broadcasting_values) {
  const Tensor a = from_vector(std::vector<double>{1, 2, 3}, {3, 1}, DType::f64);
  const Tensor b = from_vector(std::vector<double>{10, 20}, {2}, DType::f64);
  const Tensor c = a + b;
  BOOST_TEST(c.shape() == (Shape{3, 2}));
  BOOST_TEST(vals(c) == (std::vector<double>{11, 21, 12, 22, 13, 23}));
  BOOST_TEST(vals(broadcast_to(b, {2, 2})) == (std::vector<double>{10, 20, 10, 20}));
  BOOST_TEST(vals(sum_to(c, {1, 2})) == (std::vector<double>{36, 66}));
  BOOST_TEST(vals(sum_to(c, {3, 1})) == (std::vector<double>{32, 34, 36}));
  BOOST_TEST(vals(2.0 - b) == (std::vector<double>{-8, -18}));
}

BOOST_AUTO_TEST_CASE(shape_ops_values) {
  const Tensor x = reshape(arange(6, DType::f64), {2, 3});
  BOOST_TEST(vals(transpose(x)) == (std::vector<double>{0, 3, 1, 4, 2, 5}));
  BOOST_TEST(vals(slice(x, 1, 1, 3)) == (std::vector<double>{1, 2, 4, 5}));  // columns
  BOOST_TEST(vals(slice(x, 0, 1, 2)) == (std::vector<double>{3, 4, 5}));     // rows
  BOOST_TEST(vals(concat({x, x}, 0)).size() == 12u);
  BOOST_TEST(vals(concat({x, slice(x, 1, 0, 1)}, 1)) == (std::vector<double>{0, 1, 2, 0, 3, 4, 5, 3}));
  BOOST_TEST(vals(pad(slice(x, 1, 1, 2), 1, 1, 3)) == (std::vector<double>{0, 1, 0, 0, 4, 0}));
  BOOST_TEST(reshape(x, {-1}).shape() == (Shape{6}));
  BOOST_TEST(vals(sum(x, 0)) == (std::vector<double>{3, 5, 7}));
  BOOST_TEST(vals(sum(x, 1, true)) == (std::vector<double>{3, 12}));
  BOOST_TEST(sum(x, 1, true).shape() == (Shape{2, 1}));
  BOOST_TEST(vals(max(x, 1)) == (std::vector<double>{2, 5}));
  BOOST_TEST(mean(x).item() == 2.5);
  const Tensor sm = softmax(x, 1);
  BOOST_TEST(std::abs(sum(sm).item() - 2.0) < 1e-12);
  BOOST_TEST(std::abs(logsumexp(x, 1).at(0) - std::log(1 + std::exp(1.0) + std::exp(2.0))) < 1e-12);
  const Tensor bm = matmul(reshape(arange(12, DType::f64), {2, 2, 3}), reshape(arange(6, DType::f64), {3, 2}));
  BOOST_TEST(bm.shape() == (Shape{2, 2, 2}));
  BOOST_TEST(vals(bm) == (std::vector<double>{10, 13, 28, 40, 46, 67, 64, 94}));
  const Tensor w = where(greater(x, scalar(2.0, DType::f64)), x, scalar(-1.0, DType::f64));
  BOOST_TEST(vals(w) == (std::vector<double>{-1, -1, -1, 3, 4, 5}));
}

BOOST_AUTO_TEST_CASE(reshape_shares_the_buffer) {
  Tensor x = zeros({2, 3}, DType::f64);
  Tensor y = reshape(x, {3, 2});
  x.mutable_data<double>()[5] = 7.0;
  BOOST_TEST(y.at(5) == 7.0);
}

BOOST_AUTO_TEST_CASE(xtensor_roundtrip) {
  const xt::xarray<double> a = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
  Tensor t = from_xtensor(a);
  BOOST_TEST(t.shape() == (Shape{2, 3}));
  BOOST_TEST(t.dtype() == DType::f64);
  const xt::xarray<double> back = to_xarray<double>(t * 2.0);
  BOOST_TEST(back(1, 2) == 12.0);
  auto v = view<double>(t);
  v(0, 0) = -1.0;  // writes through to the tensor
  BOOST_TEST(t.at(0) == -1.0);
  const std::uint32_t version = t.impl()->storage->version;
  const Tensor& read_only = t;
  BOOST_TEST(view<double>(read_only)(1, 2) == 6.0);  // a read: no new version
  BOOST_TEST(t.impl()->storage->version == version);
  const xt::xarray<float> f = to_xarray<float>(t);
  BOOST_TEST(f(1, 1) == 5.0f);
  BOOST_TEST(from_xtensor(xt::view(a, 1, xt::all())).to_vector() == (std::vector<double>{4, 5, 6}));
}

// The caching allocator: a freed buffer is reused by the next tensor of its size class, on
// this thread and on others (a buffer freed on another thread joins that thread's cache).
BOOST_AUTO_TEST_CASE(storage_buffers_are_reused) {
  flowtape::detail::release_cached_memory();
  const std::size_t live = live_storage_bytes();
  const void* first = nullptr;
  {
    Tensor a = zeros({1000});
    first = a.raw_data();
    BOOST_TEST(live_storage_bytes() == live + 4000);
  }
  BOOST_TEST(live_storage_bytes() == live);
  BOOST_TEST(flowtape::detail::cached_bytes() >= 4000u);
  Tensor b = ones({999});  // same size class
  BOOST_TEST(b.raw_data() == first);
  BOOST_TEST(b.at(998) == 1.0);
  Tensor c = zeros({1000});
  BOOST_TEST(c.raw_data() != first);
  std::thread([&] { b = Tensor(); }).join();  // freed on (and cached by) another thread
  BOOST_TEST(live_storage_bytes() == live + 4000);
  flowtape::detail::release_cached_memory();
  BOOST_TEST(flowtape::detail::cached_bytes() == 0u);
}

// An op's inputs: up to four inline, more on the heap; copies share the handles; a moved-from
// list is empty.
BOOST_AUTO_TEST_CASE(tensor_lists_copy_and_move) {
  std::vector<Tensor> xs;
  for (int i = 0; i < 6; ++i) xs.push_back(full({1}, i));
  for (const std::size_t n : {std::size_t{0}, std::size_t{3}, std::size_t{4}, std::size_t{6}}) {
    TensorList a(std::vector<Tensor>(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(n)));
    BOOST_TEST(a.size() == n);
    for (std::size_t i = 0; i < n; ++i) BOOST_TEST(a[i].impl() == xs[i].impl());
    TensorList b = a;
    BOOST_TEST(b.size() == n);
    for (std::size_t i = 0; i < n; ++i) BOOST_TEST(b[i].impl() == xs[i].impl());
    TensorList c = std::move(a);
    BOOST_TEST(a.size() == 0u);  // NOLINT(bugprone-use-after-move): checking the moved-from state
    BOOST_TEST(c.size() == n);
    const std::span<const Tensor> view = c;
    BOOST_TEST(view.size() == n);
    for (std::size_t i = 0; i < n; ++i) BOOST_TEST(view[i].impl() == xs[i].impl());
    b = std::move(c);
    BOOST_TEST(c.size() == 0u);  // NOLINT(bugprone-use-after-move)
    BOOST_TEST(b.size() == n);
    TensorList& same = b;
    b = std::move(same);  // self-move keeps the list
    BOOST_TEST(b.size() == n);
  }
  const TensorList empty_slots(5);
  BOOST_TEST(empty_slots.size() == 5u);
  BOOST_TEST(!empty_slots[4].defined());
  // concat takes a braced list, a vector, or more than four parts.
  BOOST_TEST(concat({xs[0], xs[1]}, 0).to_vector() == (std::vector<double>{0, 1}));
  BOOST_TEST(concat(xs, 0).to_vector() == (std::vector<double>{0, 1, 2, 3, 4, 5}));
}

BOOST_AUTO_TEST_SUITE_END()
