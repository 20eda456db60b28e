// SPDX-License-Identifier: MIT
// safetensors encoding and validated decoding (files are written by atomic_file.hpp).
#include "flowtape/nn/safetensors.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "flowtape/nn/atomic_file.hpp"

namespace flowtape::nn {
namespace {

// The format is little-endian; raw buffers are written as they lie in memory.
static_assert(std::endian::native == std::endian::little,
              "flowtape's safetensors I/O assumes a little-endian machine");

// A plain (sorted) object: the tensors come back in the order of their data anyway, and
// ordered_json's insertion scans every earlier key, which made a header of millions of keys
// (within the format's 100 MB) take hours to parse.
using Json = nlohmann::json;

const char* st_dtype(DType t) {
  return t == DType::f32 ? "F32" : "F64";
}

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw CheckpointError("safetensors '" + source + "': " + what);
}

std::string range_str(std::uint64_t b, std::uint64_t e) {
  // (a stream, not "[" + to_string(b): GCC 12 reports a false -Wrestrict on that at -O3)
  std::ostringstream os;
  os << '[' << b << ", " << e << ')';
  return os.str();
}

// A JSON value for an error message: scalars and flat lists as written, anything larger by its
// kind only (a message should not repeat kilobytes of hostile input; and dump() recurses).
std::string brief(const Json& j) {
  bool flat = j.is_primitive();
  if (j.is_array() && j.size() <= 16) {
    flat = true;
    for (const Json& v : j) flat = flat && v.is_primitive();
  }
  if (flat) {
    std::string s = j.dump();
    if (s.size() <= 200) return s;
  }
  return std::string("(a JSON ") + j.type_name() + " of " + std::to_string(j.size()) + " entries)";
}

// How deeply the header's JSON nests, outside strings; stops counting past `limit`. A valid
// header nests 3 levels ({"name": {"shape": [...]}}). nlohmann's values are built and copied
// recursively, so a value nested ~40 000 levels deep overflowed the stack inside the parse (an
// 80 kB file, found by fuzzing): refuse deep nesting before parsing.
int nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size() && deepest <= limit; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // skip the escaped character
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin, end;
};

Entry parse_entry(const std::string& source, const std::string& name, const Json& j,
                  std::uint64_t data_size) {
  const std::string who = "tensor '" + name + "'";
  if (name.empty()) fail(source, "a tensor has an empty name");
  if (!j.is_object()) fail(source, who + ": header entry is not an object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!j.contains(key)) fail(source, who + ": header entry has no \"" + key + "\"");

  Entry e{name, DType::f32, Shape{}, 0, 0};
  const Json& dt = j["dtype"];
  if (!dt.is_string()) fail(source, who + ": dtype is not a string");
  const std::string d = dt.get<std::string>();
  if (d == "F32") {
    e.dtype = DType::f32;
  } else if (d == "F64") {
    e.dtype = DType::f64;
  } else {
    fail(source, who + ": unsupported dtype '" + d + "' (flowtape reads F32 and F64)");
  }

  const Json& sh = j["shape"];
  if (!sh.is_array()) fail(source, who + ": shape is not a list");
  if (sh.size() > static_cast<std::size_t>(Shape::kMaxRank))
    fail(source, who + ": rank " + std::to_string(sh.size()) + " exceeds the maximum " +
                     std::to_string(Shape::kMaxRank));
  std::uint64_t numel = 1;
  std::int64_t exact = 1;  // the running product of the extents, as Shape::numel() computes it
  constexpr std::int64_t kMaxNumel = std::numeric_limits<std::int64_t>::max();
  for (const Json& dim : sh) {
    if (!dim.is_number_unsigned())
      fail(source, who + ": shape " + brief(sh) + " is not a list of extents");
    const std::uint64_t n = dim.get<std::uint64_t>();
    if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail(source, who + ": extent " + std::to_string(n) + " is too large");
    e.shape.push_back(static_cast<std::int64_t>(n));
    // Shape::numel() multiplies the extents in order in int64: refuse a shape whose running
    // product overflows (e.g. [2^62, 4, 0], which holds no bytes but is no valid shape).
    if (exact != 0 && n > static_cast<std::uint64_t>(kMaxNumel / exact))
      fail(source, who + ": shape starting " + e.shape.str() + " has more than 2^63 elements");
    exact *= static_cast<std::int64_t>(n);
    // Saturate at data_size + 1 (too large is all the size check needs), so no overflow.
    const std::uint64_t cap = data_size + 1;
    if (numel == 0 || n == 0)
      numel = 0;
    else
      numel = n > cap / numel ? cap : std::min(cap, numel * n);
  }

  const Json& off = j["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned())
    fail(source, who + ": data_offsets " + brief(off) + " is not a pair of non-negative integers");
  e.begin = off[0].get<std::uint64_t>();
  e.end = off[1].get<std::uint64_t>();
  if (e.end < e.begin)
    fail(source, who + ": data_offsets " + range_str(e.begin, e.end) + " end before they begin");
  if (e.end > data_size)
    fail(source, who + ": data_offsets " + range_str(e.begin, e.end) +
                     " are out of range: the data section has " + std::to_string(data_size) +
                     " bytes (truncated file?)");
  if (numel > data_size)
    fail(source, who + ": shape " + e.shape.str() + " needs more bytes than the data section's " +
                     std::to_string(data_size));
  const std::uint64_t expected = numel * dtype_size(e.dtype);
  if (e.end - e.begin != expected)
    fail(source, who + ": data_offsets " + range_str(e.begin, e.end) + " hold " +
                     std::to_string(e.end - e.begin) + " bytes but shape " + e.shape.str() +
                     " of " + d + " needs " + std::to_string(expected));
  return e;
}

}  // namespace

std::string encode_safetensors(const NamedTensors& tensors, const Metadata& metadata) {
  // (ordered: the header lists the tensors in the order they are written)
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__")
      throw CheckpointError("save_safetensors: invalid tensor name '" + name + "'");
    if (!t.defined()) throw CheckpointError("save_safetensors: tensor '" + name + "' is undefined");
    if (!is_floating(t.dtype()))
      throw CheckpointError("save_safetensors: tensor '" + name + "' is " + dtype_name(t.dtype()) +
                            "; flowtape writes F32 and F64 tensors only");
    if (header.contains(name))
      throw CheckpointError("save_safetensors: duplicate tensor '" + name + "'");
    const std::uint64_t bytes = static_cast<std::uint64_t>(t.numel()) * dtype_size(t.dtype());
    header[name] = {{"dtype", st_dtype(t.dtype())},
                    {"shape", std::vector<std::int64_t>(t.shape().begin(), t.shape().end())},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string json;
  try {
    json = header.dump();
  } catch (const nlohmann::json::exception&) {  // a name or metadata value not in UTF-8
    throw CheckpointError("safetensors: tensor names and metadata must be UTF-8 text");
  }
  json.append((8 - json.size() % 8) % 8, ' ');  // the data starts 8-byte aligned

  std::string out;
  out.reserve(8 + json.size() + offset);
  const std::uint64_t n = json.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += json;
  for (const auto& [name, t] : tensors) {
    const Tensor host = to_host(t);  // a device tensor is copied back; a host one is itself
    out.append(static_cast<const char*>(host.raw_data()),
               static_cast<std::size_t>(host.numel()) * dtype_size(host.dtype()));
  }
  return out;
}

SafetensorsContents decode_safetensors(std::string_view bytes, const std::string& source) {
  if (bytes.size() < 8)
    fail(source, "truncated file: " + std::to_string(bytes.size()) +
                     " bytes, shorter than the 8-byte header length");
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  if (n > bytes.size() - 8)
    fail(source, "header length " + std::to_string(n) + " runs beyond the end of the file (" +
                     std::to_string(bytes.size()) + " bytes)");
  const std::string_view text = bytes.substr(8, n);
  const std::uint64_t data_size = bytes.size() - 8 - n;
  const std::string_view data = bytes.substr(8 + n);

  constexpr int kMaxDepth = 32;
  if (nesting_depth(text, kMaxDepth) > kMaxDepth)
    fail(source, "invalid JSON header: nested more than " + std::to_string(kMaxDepth) +
                     " levels deep (a safetensors header needs 3)");
  Json header;
  std::uint64_t top_level_keys = 0;  // more than the parsed object holds: a name given twice
  try {
    header =
        Json::parse(text.begin(), text.end(), [&](int depth, Json::parse_event_t event, Json&) {
          if (depth == 1 && event == Json::parse_event_t::key) ++top_level_keys;
          return true;
        });
  } catch (const Json::exception& e) {
    // Not only parse_error: a number beyond double ("8E8888888") throws out_of_range (found
    // by fuzz_safetensors; it escaped as a non-CheckpointError).
    fail(source, std::string("invalid JSON header: ") + e.what());
  }
  if (!header.is_object()) fail(source, "invalid JSON header: not an object");
  if (top_level_keys != header.size())
    fail(source, "a tensor name (or __metadata__) appears more than once in the header");

  SafetensorsContents out;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) fail(source, "__metadata__ is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string())
          fail(source, "__metadata__ value of '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(source, it.key(), it.value(), data_size));
  }

  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  // The data must be indexed whole, without holes, as the format requires (no bytes hidden
  // between or after the tensors): each tensor starts where the one before it ends.
  std::uint64_t cursor = 0;
  for (std::size_t i = 0; i < by_offset.size(); ++i) {
    const Entry& b = *by_offset[i];
    if (b.begin < cursor) {
      const Entry& a = *by_offset[i - 1];
      fail(source, "overlapping data_offsets: tensor '" + a.name + "' " +
                       range_str(a.begin, a.end) + " and tensor '" + b.name + "' " +
                       range_str(b.begin, b.end));
    }
    if (b.begin > cursor)
      fail(source, "data_offsets leave bytes " + range_str(cursor, b.begin) +
                       " of the data section to no tensor (before tensor '" + b.name + "')");
    cursor = b.end;
  }
  if (cursor != data_size)
    fail(source, "the data section has " + std::to_string(data_size) + " bytes but its tensors " +
                     "end at byte " + std::to_string(cursor) + ": bytes after them belong to none");
  for (const Entry* e : by_offset) {
    Tensor t = empty(e->shape, e->dtype);
    if (e->end > e->begin)
      std::memcpy(t.mutable_raw_data(), data.data() + e->begin, e->end - e->begin);
    out.tensors.emplace_back(e->name, t);
  }
  return out;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const Metadata& metadata) {
  try {
    write_file_atomic(path, encode_safetensors(tensors, metadata));
  } catch (const FileWriteError& e) {
    throw CheckpointError(e.what());
  }
}

namespace {

// Appends up to `count` bytes of `in` to `bytes`; false when the stream ended first.
bool read_up_to(std::istream& in, std::uint64_t count, std::string& bytes) {
  constexpr std::uint64_t kChunk = std::uint64_t{1} << 20;
  while (count > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min(count, kChunk));
    const std::size_t before = bytes.size();
    bytes.resize(before + want);
    in.read(bytes.data() + before, static_cast<std::streamsize>(want));
    const auto got = static_cast<std::size_t>(in.gcount());
    bytes.resize(before + got);
    if (got < want) return false;
    count -= got;
  }
  return true;
}

// The end of the data section the header describes (the largest data_offsets end), or 0 when
// the header cannot tell (decode_safetensors then reports why).
std::uint64_t data_end(std::string_view header) {
  constexpr int kMaxDepth = 32;
  if (nesting_depth(header, kMaxDepth) > kMaxDepth) return 0;
  const Json j = Json::parse(header.begin(), header.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return 0;
  std::uint64_t end = 0;
  for (const auto& [name, entry] : j.items()) {
    if (name == "__metadata__" || !entry.is_object() || !entry.contains("data_offsets")) continue;
    const Json& off = entry["data_offsets"];
    if (off.is_array() && off.size() == 2 && off[1].is_number_unsigned())
      end = std::max(end, off[1].get<std::uint64_t>());
  }
  return end;
}

}  // namespace

// Reads only what the header describes, in order (length, header, data), so a pipe works and
// a hostile file costs no more than its header promises and the file holds: /dev/zero is
// refused after 8 bytes, a header longer than the format's 100 MB limit (or than the file)
// before it is read, and nothing past the last tensor is read.
SafetensorsContents load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw CheckpointError("safetensors '" + path + "': cannot open: " + std::strerror(errno));
  std::string bytes;
  if (read_up_to(in, 8, bytes)) {
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    constexpr std::uint64_t kMaxHeader = 100'000'000;
    if (n > kMaxHeader)
      fail(path, "header length " + std::to_string(n) + " exceeds the format's limit of " +
                     std::to_string(kMaxHeader) + " bytes");
    std::error_code ec;
    const std::uintmax_t file_size = std::filesystem::is_regular_file(path, ec)
                                         ? std::filesystem::file_size(path, ec)
                                         : std::numeric_limits<std::uintmax_t>::max();
    if (n > file_size - 8)
      fail(path, "header length " + std::to_string(n) + " runs beyond the end of the file (" +
                     std::to_string(file_size) + " bytes)");
    if (read_up_to(in, n, bytes)) {
      // (A file shorter than the offsets simply ends first; decode_safetensors names the
      // tensor that runs past it.) A pipe has no size to check the header against: its data
      // is capped instead.
      const std::uint64_t end = data_end(std::string_view(bytes).substr(8));
      constexpr std::uint64_t kMaxStreamed = std::uint64_t{16} << 30;
      if (file_size == std::numeric_limits<std::uintmax_t>::max() && end > kMaxStreamed)
        fail(path, "the header describes " + std::to_string(end) +
                       " bytes of data; a checkpoint read from a pipe may hold at most " +
                       std::to_string(kMaxStreamed));
      read_up_to(in, end, bytes);
    }
  }
  if (in.bad()) throw CheckpointError("safetensors '" + path + "': read error");
  SafetensorsContents out = decode_safetensors(bytes, path);
  // Only what the header describes was read; anything after it belongs to no tensor.
  if (in.peek() != std::char_traits<char>::eof())
    fail(path, "bytes after the last tensor's data belong to no tensor");
  return out;
}

}  // namespace flowtape::nn
