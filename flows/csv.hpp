// SPDX-License-Identifier: MIT
// Reading points from CSV, strictly: one row per line, numbers only (each cell a complete
// number, as written by flowtape or NumPy), an optional header on the first line (names, none
// of them a number), '#' comment lines.
// Every error names the source, the line and the column and quotes at most a short excerpt;
// a line, a row count or a column count past its bound is refused before it is stored, so a
// hostile file (one endless line, /dev/zero) costs no more than the bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "flowtape/runtime/tensor.hpp"

namespace flowtape::flows {

struct CsvOptions {
  DType dtype = DType::f32;
  // Rows holding nan or inf (or a value beyond the dtype's range) are refused, naming the
  // line; with drop_nonfinite they are skipped and counted instead.
  bool drop_nonfinite = false;
  std::size_t max_line_bytes = std::size_t{1} << 20;
  std::int64_t max_columns = 1 << 16;
  // rows x columns; read as doubles, so up to 8 bytes each (16 while the buffer grows), plus
  // the result: 2^27 values peak at about 2.5 GiB.
  std::int64_t max_values = std::int64_t{1} << 27;
};

struct CsvTable {
  Tensor values;                    // [rows, columns] in options.dtype
  std::vector<std::string> header;  // the first line's names, when it had them
  std::int64_t dropped_rows = 0;    // rows skipped by drop_nonfinite
};

// A malformed file: the message says where ("points.csv:7: column 2: ...").
class CsvError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// At most 40 characters of text from a user's file, quoted, with control characters shown as
// '?' and the full length after a cut ("'aaaa...' (1048576 bytes)"): what an error message
// quotes, so a 50 MB cell is named, not echoed.
std::string excerpt(std::string_view text);

CsvTable read_csv(const std::string& path, const CsvOptions& options = {});
// The same from a stream; `source` names it in errors.
CsvTable parse_csv(std::istream& in, const std::string& source, const CsvOptions& options = {});

}  // namespace flowtape::flows
