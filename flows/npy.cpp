// SPDX-License-Identifier: MIT
// The strict .npy reader (npy.hpp). The header is a Python dict literal with exactly the keys
// 'descr', 'fortran_order' and 'shape'; this parser reads that grammar and nothing more.
#include "flowtape/flows/npy.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string_view>
#include <vector>

#include "flowtape/flows/csv.hpp"

namespace flowtape::flows {
namespace {

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

// A cursor over the header text; errors give the byte offset in the file.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::size_t offset, const std::string& source)
      : s_(text), base_(offset), source_(source) {}

  Header parse() {
    Header h;
    bool seen[3] = {false, false, false};
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      const auto first = [&](bool& was_seen) {
        if (was_seen) fail("the header repeats " + excerpt(key));
        was_seen = true;
      };
      if (key == "descr") {
        first(seen[0]);
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        first(seen[1]);
        h.fortran_order = boolean();
      } else if (key == "shape") {
        first(seen[2]);
        h.shape = tuple();
      } else {
        fail("unknown header key " + excerpt(key));
      }
      // Between entries a comma; after the last, an optional comma, then '}'.
      if (peek() == ',') {
        ++i_;
      } else if (peek() != '}') {
        fail("expected ',' or '}' in the header");
      }
    }
    ++i_;  // '}'
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n')) ++i_;
    if (i_ != s_.size()) fail("text after the header's '}'");
    if (!seen[0] || !seen[1] || !seen[2])
      fail("the header needs 'descr', 'fortran_order' and 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw NpyError(source_ + ": byte " + std::to_string(base_ + i_) + ": " + why);
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  char peek() {
    skip_space();
    if (i_ >= s_.size()) fail("the header ends early");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "' in the header");
    ++i_;
  }
  std::string string_literal() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string in the header");
    const std::size_t end = s_.find(quote, i_ + 1);
    if (end == std::string_view::npos) fail("an unterminated string in the header");
    std::string out(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}})
      if (s_.substr(i_, std::strlen(word)) == word) {
        i_ += std::strlen(word);
        return value;
      }
    fail("expected True or False");
  }
  std::vector<std::int64_t> tuple() {
    expect('(');
    std::vector<std::int64_t> dims;
    while (peek() != ')') {
      std::int64_t v = 0;
      const std::size_t start = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        if (v > (std::numeric_limits<std::int64_t>::max() - 9) / 10) fail("a dimension overflows");
        v = v * 10 + (s_[i_++] - '0');
      }
      if (i_ == start) fail("expected a dimension in the shape");
      dims.push_back(v);
      if (peek() == ',') {
        ++i_;
      } else if (peek() != ')') {
        fail("expected ',' or ')' in the shape");
      }
      if (dims.size() > 8) fail("too many axes");
    }
    ++i_;
    return dims;
  }

  std::string_view s_;
  std::size_t i_ = 0, base_;
  const std::string& source_;
};

std::uint32_t little_endian(const unsigned char* p, int bytes) {
  std::uint32_t v = 0;
  for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

}  // namespace

Tensor parse_npy(std::istream& in, const std::string& source, std::int64_t available,
                 const NpyOptions& o) {
  unsigned char prefix[12] = {};
  in.read(reinterpret_cast<char*>(prefix), 10);
  if (in.gcount() < 10 || std::memcmp(prefix, "\x93NUMPY", 6) != 0)
    throw NpyError(source + ": byte 0: not a .npy file (no \\x93NUMPY magic)");
  const int major = prefix[6];
  if (major < 1 || major > 3)
    throw NpyError(source + ": byte 6: format version " + std::to_string(major) +
                   " (1 to 3 are read)");
  std::size_t header_at = 10, header_len = little_endian(prefix + 8, 2);
  if (major >= 2) {
    in.read(reinterpret_cast<char*>(prefix + 10), 2);
    if (in.gcount() < 2) throw NpyError(source + ": byte 10: the file ends in its header length");
    header_at = 12;
    header_len = little_endian(prefix + 8, 4);
  }
  if (header_len > (1u << 16))
    throw NpyError(source + ": byte 8: a header of " + std::to_string(header_len) +
                   " bytes (at most 65536)");
  std::string text(header_len, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  if (static_cast<std::size_t>(in.gcount()) != header_len)
    throw NpyError(source + ": byte " + std::to_string(header_at) +
                   ": the file ends in its header");
  const Header h = HeaderParser(text, header_at, source).parse();

  struct Kind {
    const char* descr;
    int bytes;
    DType dtype;
  };
  const Kind kinds[] = {{"<f4", 4, DType::f32},
                        {"<f8", 8, DType::f64},
                        {"<i4", 4, DType::i64},
                        {"<i8", 8, DType::i64}};
  const Kind* kind = nullptr;
  for (const Kind& k : kinds)
    if (h.descr == k.descr) kind = &k;
  if (!kind)
    throw NpyError(source + ": dtype " + excerpt(h.descr) +
                   " is not read (little-endian float32, float64, int32 or int64: '<f4', '<f8', "
                   "'<i4', '<i8')");
  if (h.shape.empty() || h.shape.size() > 2)
    throw NpyError(source + ": an array of " + std::to_string(h.shape.size()) +
                   " axes (1 or 2 are read)");
  // Fortran order lays the bytes out as C order does where at most one axis is longer than
  // 1 (a vector, a column, a row): those are read; a true matrix is refused, saying how.
  const auto longer_than_one =
      std::count_if(h.shape.begin(), h.shape.end(), [](std::int64_t d) { return d > 1; });
  if (h.fortran_order && longer_than_one > 1)
    throw NpyError(source + ": the array is in Fortran order; save np.ascontiguousarray(a)");
  std::int64_t count = 1;
  for (std::int64_t d : h.shape) {
    if (d == 0) throw NpyError(source + ": the array is empty");
    if (d > o.max_values || count > o.max_values / d)
      throw NpyError(source + ": the array has more than " + std::to_string(o.max_values) +
                     " values");
    count *= d;
  }
  std::int64_t bytes = 0;
  if (__builtin_mul_overflow(count, static_cast<std::int64_t>(kind->bytes), &bytes))
    throw NpyError(source + ": the array's size overflows");
  const std::int64_t data_at = static_cast<std::int64_t>(header_at + header_len);
  if (available >= 0 && available != data_at + bytes)
    throw NpyError(source + ": the shape needs " + std::to_string(bytes) + " bytes of data after " +
                   "byte " + std::to_string(data_at) + ", the file has " +
                   std::to_string(available - data_at));
  std::vector<char> raw(static_cast<std::size_t>(bytes));
  in.read(raw.data(), static_cast<std::streamsize>(bytes));
  if (in.gcount() != bytes)
    throw NpyError(source + ": byte " + std::to_string(data_at + in.gcount()) +
                   ": the file ends before the array's " + std::to_string(bytes) + " bytes");
  if (in.peek() != std::char_traits<char>::eof())
    throw NpyError(source + ": byte " + std::to_string(data_at + bytes) +
                   ": bytes after the array");

  Shape shape = h.shape.size() == 1 ? Shape{h.shape[0]} : Shape{h.shape[0], h.shape[1]};
  Tensor out = empty(shape, kind->dtype);
  if (kind->bytes == 4 && kind->dtype == DType::i64) {  // int32 widened
    auto* dst = out.mutable_data<std::int64_t>();
    for (std::int64_t i = 0; i < count; ++i) {
      std::int32_t v;
      std::memcpy(&v, raw.data() + i * 4, 4);
      dst[i] = v;
    }
  } else {
    std::memcpy(out.mutable_raw_data(), raw.data(), raw.size());
  }
  return out;
}

Tensor read_npy(const std::string& path, const NpyOptions& options) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw NpyError("cannot open " + path);
  std::error_code ec;
  const bool regular = std::filesystem::is_regular_file(path, ec);
  const auto size = regular ? static_cast<std::int64_t>(std::filesystem::file_size(path, ec)) : -1;
  return parse_npy(f, path, ec ? -1 : size, options);
}

}  // namespace flowtape::flows
