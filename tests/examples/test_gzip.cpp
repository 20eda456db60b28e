// SPDX-License-Identifier: MIT
// The digits programs' gzip reader (examples/digits/gzip.hpp, inflate.hpp): files made by
// gzip and Python's gzip module, every block type, and malformed streams that must be refused.
#define BOOST_TEST_MODULE examples
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "examples/digits/digit_data.hpp"
#include "examples/digits/gzip.hpp"
#include "examples/digits/inflate.hpp"

using flowtape::examples::gunzip;
using flowtape::examples::inflate;

namespace {

std::string read_data(const std::string& name) {
  std::ifstream f(std::string(FLOWTAPE_EXAMPLES_TEST_DATA) + "/" + name, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(f, "missing test file " << name);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// What tests/examples/data/rows.gz holds (made with Python's gzip.compress, level 9).
std::string rows() {
  std::string s;
  for (int i = 0; i < 2000; ++i)
    s += std::to_string(i) + "," + std::to_string((i * i) % 97) + "," +
         std::to_string((i * 7919) % 1000) + "\n";
  return s;
}

std::string inflate_bytes(const std::vector<unsigned char>& raw, std::size_t limit = 1 << 20) {
  return inflate(raw.data(), raw.size(), limit).bytes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gzip)

// `printf aa | gzip -n`: a fixed-code block whose last code sits in the stream's last bits.
// stb_image's decoder (v2.27), used before, refused it, wanting 16 bits buffered per code.
BOOST_AUTO_TEST_CASE(a_short_fixed_code_stream_decodes) {
  BOOST_TEST(gunzip(read_data("aa.gz"), "aa.gz") == "aa");
}

BOOST_AUTO_TEST_CASE(a_dynamic_code_stream_decodes) {
  BOOST_TEST(gunzip(read_data("rows.gz"), "rows.gz") == rows());
}

// Two stored blocks (the second final), with the lengths' one's complements.
BOOST_AUTO_TEST_CASE(stored_blocks_decode_and_report_what_they_consumed) {
  const std::vector<unsigned char> raw = {0x00, 0x03, 0x00, 0xFC, 0xFF, 'a', 'b', 'c',
                                          0x01, 0x02, 0x00, 0xFD, 0xFF, 'd', 'e', 0x99};
  const auto out = inflate(raw.data(), raw.size(), 100);
  BOOST_TEST(out.bytes == "abcde");
  BOOST_TEST(out.consumed == raw.size() - 1);  // the byte after the stream is not read
  BOOST_CHECK_THROW(inflate_bytes({0x01, 0x02, 0x00, 0xFC, 0xFF, 'd', 'e'}), std::runtime_error);
}

// Fixed-code streams written bit by bit: the header (final, type 1), then codes, each refused
// for its own reason.
BOOST_AUTO_TEST_CASE(codes_rfc_1951_forbids_are_refused) {
  const auto refused = [](const std::vector<unsigned char>& raw, const std::string& why) {
    BOOST_CHECK_EXCEPTION(inflate_bytes(raw), std::runtime_error, [&](const std::runtime_error& e) {
      const bool named = std::string(e.what()).find(why) != std::string::npos;
      BOOST_TEST(named, "'" << e.what() << "' does not say '" << why << "'");
      return named;
    });
  };
  refused({0x1B, 0x03}, "length code 286");
  refused({0x03, 0x3E}, "distance code 30");             // after length 3
  refused({0x03, 0x02}, "a distance before the start");  // distance 1, no data
  refused({0x07}, "block type 3");
  refused({}, "ends before its last block");
  BOOST_TEST(inflate_bytes({0x03, 0x00}).empty());  // end of block at once: valid, empty
}

BOOST_AUTO_TEST_CASE(output_past_the_limit_is_refused_before_it_is_written) {
  const std::string gz = read_data("rows.gz");
  const auto* deflate = reinterpret_cast<const unsigned char*>(gz.data()) + 10;
  const std::size_t size = gz.size() - 18;
  BOOST_TEST(inflate(deflate, size, rows().size()).bytes == rows());
  BOOST_CHECK_THROW(inflate(deflate, size, rows().size() - 1), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(malformed_gzip_members_are_refused) {
  const std::string gz = read_data("rows.gz");
  const auto refused = [](const std::string& bytes) {
    BOOST_CHECK_THROW(gunzip(bytes, "x.gz"), std::runtime_error);
  };
  // Bytes between the deflate stream and the trailer.
  refused(gz.substr(0, gz.size() - 8) + "JUNKJUNK" + gz.substr(gz.size() - 8));
  refused(gz.substr(0, gz.size() - 9) + gz.substr(gz.size() - 8));  // stream cut short
  std::string bad_crc = gz;
  bad_crc[gz.size() - 8] ^= 1;
  refused(bad_crc);
  std::string bad_length = gz;
  bad_length[gz.size() - 4] ^= 1;
  refused(bad_length);
  refused(gz.substr(0, 17));
  refused("not gzip at all, but long enough");
}

// /dev/zero never ends: the reader stops one chunk past gunzip's bound and refuses it, where
// reading the whole file first ran out of memory.
BOOST_AUTO_TEST_CASE(an_endless_file_is_refused_after_the_bound) {
  BOOST_CHECK_EXCEPTION(flowtape::examples::read_digits("/dev/zero", 0.2, 0), std::runtime_error,
                        [](const std::runtime_error& e) {
                          return std::string(e.what()).find("larger than") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_SUITE_END()
