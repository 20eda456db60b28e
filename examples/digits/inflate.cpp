// SPDX-License-Identifier: MIT
// A strict deflate decoder; see inflate.hpp. The tables are RFC 1951's, section 3.2.5.
#include "examples/digits/inflate.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace flowtape::examples {
namespace {

[[noreturn]] void malformed(const std::string& why) {
  throw std::runtime_error("malformed deflate stream: " + why);
}

// Bits of the input, least significant bit of each byte first (RFC 1951, 3.1.1).
class BitReader {
 public:
  BitReader(const unsigned char* data, std::size_t size) : data_(data), size_(size) {}

  int bit() {
    if (left_ == 0) {
      if (pos_ == size_) malformed("it ends before its last block does");
      byte_ = data_[pos_++];
      left_ = 8;
    }
    const int b = byte_ & 1;
    byte_ >>= 1;
    --left_;
    return b;
  }

  // n bits as a number, first bit least significant (how deflate stores extra bits).
  std::uint32_t bits(int n) {
    std::uint32_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint32_t>(bit()) << i;
    return v;
  }

  // Skips to the next byte boundary (before a stored block's length).
  void align() { left_ = 0; }

  unsigned char byte() {
    if (pos_ == size_) malformed("a stored block ends early");
    return data_[pos_++];
  }

  std::size_t consumed() const { return pos_; }

 private:
  const unsigned char* data_;
  std::size_t size_, pos_ = 0;
  unsigned byte_ = 0;
  int left_ = 0;
};

constexpr int kMaxBits = 15;

// A canonical Huffman code: how many codes each length has, and the symbols in code order.
struct Huffman {
  std::array<int, kMaxBits + 1> count{};
  std::vector<int> symbols;
};

// The code with lengths[s] bits for symbol s (0: unused). An over-subscribed set of lengths
// is refused; an incomplete one is allowed (RFC 1951 allows a single distance code), and a
// bit pattern no symbol has fails in decode.
Huffman build(const std::vector<int>& lengths, const char* which) {
  Huffman h;
  for (const int len : lengths) ++h.count[static_cast<std::size_t>(len)];
  h.count[0] = 0;
  int left = 1;
  for (int len = 1; len <= kMaxBits; ++len) {
    left = 2 * left - h.count[static_cast<std::size_t>(len)];
    if (left < 0) malformed(std::string("over-subscribed ") + which + " code");
  }
  std::array<int, kMaxBits + 2> offset{};
  for (int len = 1; len <= kMaxBits; ++len)
    offset[static_cast<std::size_t>(len + 1)] =
        offset[static_cast<std::size_t>(len)] + h.count[static_cast<std::size_t>(len)];
  h.symbols.resize(lengths.size());
  for (std::size_t s = 0; s < lengths.size(); ++s)
    if (lengths[s] != 0)
      h.symbols[static_cast<std::size_t>(offset[static_cast<std::size_t>(lengths[s])]++)] =
          static_cast<int>(s);
  return h;
}

// One symbol: the code's bits arrive most significant first. Codes of one length are
// consecutive numbers, starting at `first`.
int decode(BitReader& in, const Huffman& h, const char* which) {
  int code = 0, first = 0, index = 0;
  for (int len = 1; len <= kMaxBits; ++len) {
    code |= in.bit();
    const int count = h.count[static_cast<std::size_t>(len)];
    if (code - first < count) return h.symbols[static_cast<std::size_t>(index + code - first)];
    index += count;
    first = (first + count) << 1;
    code <<= 1;
  }
  malformed(std::string("a ") + which + " code that no symbol has");
}

constexpr std::array<int, 29> kLengthBase = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                             15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                             67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr std::array<int, 29> kLengthExtra = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                              2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr std::array<int, 30> kDistanceBase = {
    1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr std::array<int, 30> kDistanceExtra = {0, 0, 0,  0,  1,  1,  2,  2,  3,  3,
                                                4, 4, 5,  5,  6,  6,  7,  7,  8,  8,
                                                9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

void put(std::string& out, char c, std::size_t limit) {
  if (out.size() >= limit) throw std::runtime_error("the deflate stream inflates past its bound");
  out.push_back(c);
}

// The symbols of one Huffman-coded block, up to its end-of-block symbol.
void inflate_codes(BitReader& in, const Huffman& literals, const Huffman& distances,
                   std::string& out, std::size_t limit) {
  for (;;) {
    int symbol = decode(in, literals, "literal/length");
    if (symbol < 256) {
      put(out, static_cast<char>(symbol), limit);
      continue;
    }
    if (symbol == 256) return;
    symbol -= 257;
    if (symbol >= 29) malformed("length code " + std::to_string(symbol + 257));
    const std::size_t length =
        static_cast<std::size_t>(kLengthBase[static_cast<std::size_t>(symbol)]) +
        in.bits(kLengthExtra[static_cast<std::size_t>(symbol)]);
    const int d = decode(in, distances, "distance");
    if (d >= 30) malformed("distance code " + std::to_string(d));
    const std::size_t distance =
        static_cast<std::size_t>(kDistanceBase[static_cast<std::size_t>(d)]) +
        in.bits(kDistanceExtra[static_cast<std::size_t>(d)]);
    if (distance > out.size()) malformed("a distance before the start of the data");
    // Byte by byte: a copy may overlap what it writes (distance < length repeats a pattern).
    for (std::size_t i = 0; i < length; ++i) put(out, out[out.size() - distance], limit);
  }
}

// The fixed codes of block type 1 (RFC 1951, 3.2.6).
void fixed_codes(Huffman& literals, Huffman& distances) {
  std::vector<int> lengths(288);
  for (int s = 0; s < 288; ++s)
    lengths[static_cast<std::size_t>(s)] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
  literals = build(lengths, "literal/length");
  distances = build(std::vector<int>(32, 5), "distance");  // 30 and 31 exist, to be refused
}

// The codes of block type 2, read from the block's header (RFC 1951, 3.2.7).
void dynamic_codes(BitReader& in, Huffman& literals, Huffman& distances) {
  const int n_literals = static_cast<int>(in.bits(5)) + 257;
  const int n_distances = static_cast<int>(in.bits(5)) + 1;
  const int n_lengths = static_cast<int>(in.bits(4)) + 4;
  if (n_literals > 286) malformed("more than 286 literal/length codes");
  if (n_distances > 30) malformed("more than 30 distance codes");
  constexpr std::array<int, 19> kOrder = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                          11, 4,  12, 3, 13, 2, 14, 1, 15};
  std::vector<int> length_lengths(19, 0);
  for (int i = 0; i < n_lengths; ++i)
    length_lengths[static_cast<std::size_t>(kOrder[static_cast<std::size_t>(i)])] =
        static_cast<int>(in.bits(3));
  const Huffman length_code = build(length_lengths, "code-length");
  std::vector<int> lengths;
  const auto total = static_cast<std::size_t>(n_literals + n_distances);
  while (lengths.size() < total) {
    const int symbol = decode(in, length_code, "code-length");
    if (symbol < 16) {
      lengths.push_back(symbol);
      continue;
    }
    int value = 0;
    std::size_t repeat = 0;
    if (symbol == 16) {
      if (lengths.empty()) malformed("a repeat with no length before it");
      value = lengths.back();
      repeat = 3 + in.bits(2);
    } else if (symbol == 17) {
      repeat = 3 + in.bits(3);
    } else {
      repeat = 11 + in.bits(7);
    }
    if (lengths.size() + repeat > total) malformed("code lengths run past the codes");
    lengths.insert(lengths.end(), repeat, value);
  }
  if (lengths[256] == 0) malformed("no end-of-block code");
  literals = build({lengths.begin(), lengths.begin() + n_literals}, "literal/length");
  distances = build({lengths.begin() + n_literals, lengths.end()}, "distance");
}

}  // namespace

Inflated inflate(const unsigned char* data, std::size_t size, std::size_t limit) {
  BitReader in(data, size);
  std::string out;
  Huffman literals, distances;
  bool last = false;
  while (!last) {
    last = in.bit() == 1;
    switch (in.bits(2)) {
      case 0: {  // stored
        in.align();
        const unsigned lo = in.byte(), hi = in.byte(), nlo = in.byte(), nhi = in.byte();
        const unsigned length = lo | hi << 8, complement = nlo | nhi << 8;
        if (length != (~complement & 0xFFFFu)) malformed("a stored block's length check fails");
        for (unsigned i = 0; i < length; ++i) put(out, static_cast<char>(in.byte()), limit);
        break;
      }
      case 1:
        fixed_codes(literals, distances);
        inflate_codes(in, literals, distances, out, limit);
        break;
      case 2:
        dynamic_codes(in, literals, distances);
        inflate_codes(in, literals, distances, out, limit);
        break;
      default:
        malformed("block type 3");
    }
  }
  return {std::move(out), in.consumed()};
}

}  // namespace flowtape::examples
