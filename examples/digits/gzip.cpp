// SPDX-License-Identifier: MIT
// gzip framing (RFC 1952) around inflate.hpp; see gzip.hpp.
#include "examples/digits/gzip.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>

#include "examples/digits/inflate.hpp"

namespace flowtape::examples {
namespace {

std::uint32_t crc32(const std::string& data) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::uint32_t le32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int k = 3; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(s[at + k]);
  return v;
}

}  // namespace

std::string gunzip(const std::string& bytes, const std::string& source) {
  const auto fail = [&](const std::string& why) {
    throw std::runtime_error(source + ": not a readable gzip file (" + why + ")");
  };
  if (bytes.size() > kMostGzipBytes) fail("larger than 128 MiB");
  if (bytes.size() < 18 || static_cast<unsigned char>(bytes[0]) != 0x1f ||
      static_cast<unsigned char>(bytes[1]) != 0x8b)
    fail("no gzip magic");
  if (bytes[2] != 8) fail("compression method is not deflate");
  const auto flags = static_cast<unsigned char>(bytes[3]);
  if (flags & 0xE0) fail("reserved flag bits set");
  // The trailer's length first: a small file that claims to inflate past the bound is refused
  // before anything is decoded.
  constexpr std::uint32_t kMostBytes = 64u << 20;
  if (le32(bytes, bytes.size() - 4) > kMostBytes) fail("it would inflate past 64 MiB");
  std::size_t at = 10;
  if (flags & 0x04) {  // FEXTRA
    if (at + 2 > bytes.size()) fail("truncated extra field");
    at += 2 + (static_cast<unsigned char>(bytes[at]) |
               (static_cast<unsigned char>(bytes[at + 1]) << 8));
    if (at > bytes.size()) fail("truncated extra field");
  }
  for (const unsigned char zero_terminated : {0x08, 0x10})  // FNAME, FCOMMENT
    if (flags & zero_terminated) {
      const std::size_t end = bytes.find('\0', at);
      if (end == std::string::npos) fail("unterminated name or comment");
      at = end + 1;
    }
  if (flags & 0x02) at += 2;  // FHCRC
  if (at + 8 > bytes.size()) fail("truncated");
  const std::size_t deflate_len = bytes.size() - at - 8;
  // Bounded by the trailer's length (checked before each byte is written): memory stays
  // within the bound whatever the stream holds.
  const std::uint32_t claimed = le32(bytes, bytes.size() - 4);
  Inflated inflated;
  try {
    inflated =
        inflate(reinterpret_cast<const unsigned char*>(bytes.data()) + at, deflate_len, claimed);
  } catch (const std::runtime_error& e) {
    fail(e.what());
  }
  std::string& text = inflated.bytes;
  if (inflated.consumed != deflate_len)
    fail("bytes between the end of the deflate stream and the trailer");
  if (text.size() != claimed) fail("length mismatch");
  if (crc32(text) != le32(bytes, bytes.size() - 8)) fail("CRC-32 mismatch");
  return text;
}

}  // namespace flowtape::examples
