// SPDX-License-Identifier: MIT
// The strict .npy reader: the files np.save writes (versions 1 and 2, float32 / float64 /
// int32 / int64, one or two axes) and hostile ones, each refused with the byte offset before
// anything is allocated for the array.
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "flowtape/flows/npy.hpp"

using namespace flowtape;
using namespace flowtape::flows;

namespace {

// A .npy file as np.save would write it: magic, version, header padded with spaces to a
// multiple of 64 bytes ending in '\n', then the raw values.
std::string npy_file(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict;
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const std::size_t n = header.size();
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  if (major >= 2) out += std::string(2, '\0');
  return out + header + data;
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

Tensor parse(const std::string& file, NpyOptions o = {}) {
  std::istringstream in(file);
  return parse_npy(in, "a.npy", static_cast<std::int64_t>(file.size()), o);
}

std::string error_of(const std::string& file, NpyOptions o = {}) {
  try {
    parse(file, o);
  } catch (const NpyError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(npy)

BOOST_AUTO_TEST_CASE(reads_what_numpy_writes) {
  const Tensor a = parse(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
                                  bytes_of<double>({1, 2, 3, 4, 5, 6.5})));
  BOOST_TEST(a.dtype() == DType::f64);
  BOOST_TEST((a.shape() == Shape{2, 3}));
  BOOST_TEST(a.to_vector() == (std::vector<double>{1, 2, 3, 4, 5, 6.5}),
             boost::test_tools::per_element());
  const Tensor b = parse(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                                  bytes_of<float>({0.5f, -1.0f, 2.0f}), 2));
  BOOST_TEST(b.dtype() == DType::f32);
  BOOST_TEST((b.shape() == Shape{3}));
  const Tensor c = parse(npy_file("{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }",
                                  bytes_of<std::int32_t>({0, 7, -2, 3})));
  BOOST_TEST(c.dtype() == DType::i64);
  BOOST_TEST(c.to_vector() == (std::vector<double>{0, 7, -2, 3}), boost::test_tools::per_element());
  const Tensor d = parse(npy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1), }",
                                  bytes_of<std::int64_t>({5, 9})));
  BOOST_TEST(d.to_vector() == (std::vector<double>{5, 9}), boost::test_tools::per_element());
  // Fortran order where it lays the bytes out as C order does: a vector, a column, a row.
  for (const char* shape : {"(3,)", "(3, 1)", "(1, 3)"}) {
    const Tensor f = parse(npy_file(std::string("{'descr': '<f8', 'fortran_order': True, "
                                                "'shape': ") +
                                        shape + ", }",
                                    bytes_of<double>({1, 2, 3})));
    BOOST_TEST(f.to_vector() == (std::vector<double>{1, 2, 3}), boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(hostile_files_are_refused_with_the_place) {
  const std::string ok_dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
  const std::string four = bytes_of<double>({1, 2, 3, 4});
  const auto has = [](const std::string& message, const std::string& part) {
    BOOST_TEST_MESSAGE(message);
    return message.find(part) != std::string::npos;
  };
  BOOST_TEST(has(error_of("PK\x03\x04 not numpy"), "byte 0: not a .npy file"));
  BOOST_TEST(has(error_of(npy_file(ok_dict, four).substr(0, 40)), "ends in its header"));
  BOOST_TEST(has(error_of(npy_file(ok_dict, four.substr(0, 24))), "needs 32 bytes"));
  BOOST_TEST(has(error_of(npy_file(ok_dict, four + "xx")), "needs 32 bytes"));
  BOOST_TEST(
      has(error_of(npy_file("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }", four)),
          "dtype '>f8' is not read"));
  BOOST_TEST(
      has(error_of(npy_file("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", four)),
          "Fortran order"));
  BOOST_TEST(has(
      error_of(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 2), }", four)),
      "3 axes"));
  BOOST_TEST(has(
      error_of(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), 'x': 1}", four)),
      "unknown header key 'x'"));
  BOOST_TEST(
      has(error_of(npy_file("{'descr': '<f8' 'fortran_order': False, 'shape': (2, 2), }", four)),
          "expected ',' or '}'"));
  BOOST_TEST(has(error_of(npy_file("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, "
                                   "'shape': (2, 2), }",
                                   four)),
                 "repeats 'descr'"));
  BOOST_TEST(
      has(error_of(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2 2), }", four)),
          "expected ',' or ')'"));
  BOOST_TEST(
      has(error_of(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), } x", four)),
          "text after the header"));
  BOOST_TEST(has(error_of(npy_file("{'descr': '<f8', 'shape': (2, 2), }", four)),
                 "needs 'descr', 'fortran_order' and 'shape'"));
  // A shape of 2^40 values is refused by its bound, before any allocation.
  BOOST_TEST(has(error_of(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (1048576, "
                                   "1048576), }",
                                   four)),
                 "more than"));
  BOOST_TEST(has(error_of(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': "
                                   "(99999999999999999999, 2), }",
                                   four)),
                 "overflows"));
  // A header-length field of 60 000 with a short file.
  std::string big = npy_file(ok_dict, four);
  big[8] = static_cast<char>(0x60);
  big[9] = static_cast<char>(0xea);
  BOOST_TEST(has(error_of(big), "ends in its header"));
  // Version 2's 4-byte header length beyond the bound.
  std::string v2 = npy_file(ok_dict, four, 2);
  v2[11] = static_cast<char>(0x7f);
  BOOST_TEST(has(error_of(v2), "byte 8: a header of"));
  BOOST_TEST(has(error_of(npy_file(ok_dict, four), {.max_values = 3}), "more than 3 values"));
  // With the value bound raised as far as it goes, the byte count is checked for overflow too.
  NpyOptions unbounded;
  unbounded.max_values = INT64_MAX;
  BOOST_TEST(
      error_of(
          npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952, 2), }",
                   ""),
          unbounded)
          .find("overflows") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
