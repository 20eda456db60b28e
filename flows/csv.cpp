// SPDX-License-Identifier: MIT
// The strict CSV reader (csv.hpp). Lines are read into a buffer of the bound's size, so an
// over-long line is detected without storing it; cells are parsed with std::from_chars, which
// must consume the whole cell (so "2abc" is an error, not 2).
#include "flowtape/flows/csv.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <string_view>
#include <system_error>

namespace flowtape::flows {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

enum class Cell { number, not_a_number, out_of_range };

Cell parse_number(std::string_view s, double& value) {
  // from_chars takes no '+', which a number may have: one, before a digit or a point.
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (s.empty() || s.front() == '+' || s.front() == '-') return Cell::not_a_number;
  }
  if (s.empty()) return Cell::not_a_number;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (end != s.data() + s.size()) return Cell::not_a_number;
  if (ec == std::errc::result_out_of_range) return Cell::out_of_range;
  return ec == std::errc() ? Cell::number : Cell::not_a_number;
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    cells.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string_view::npos) return cells;
    start = comma + 1;
  }
}

}  // namespace

std::string excerpt(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::string out(text.substr(0, kMax));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 32) c = '?';
  if (text.size() <= kMax) return "'" + out + "'";
  return "'" + out + "...' (" + std::to_string(text.size()) + " bytes)";
}

CsvTable parse_csv(std::istream& in, const std::string& source, const CsvOptions& o) {
  if (!is_floating(o.dtype))
    throw std::invalid_argument("parse_csv: the values' dtype must be f32 or f64");
  CsvTable table;
  std::vector<double> values;
  std::int64_t columns = -1, rows = 0, line_number = 0;
  const double limit = o.dtype == DType::f32 ? std::numeric_limits<float>::max()
                                             : std::numeric_limits<double>::max();
  std::string buffer(o.max_line_bytes + 2, '\0');
  bool first_content_line = true;
  for (;;) {
    in.getline(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (in.eof() && got == 0) break;
    ++line_number;
    const std::string where = source + ":" + std::to_string(line_number);
    if (in.fail() && !in.eof())
      throw CsvError(where + ": line longer than " + std::to_string(o.max_line_bytes) + " bytes");
    std::string_view line(buffer.data(), got - (in.eof() ? 0 : 1));  // without the '\n'
    const std::string_view content = trim(line);
    const bool last = in.eof();
    if (content.empty() || content.front() == '#') {
      if (last) break;
      continue;
    }
    const std::vector<std::string_view> cells = split(content);
    if (static_cast<std::int64_t>(cells.size()) > o.max_columns)
      throw CsvError(where + ": " + std::to_string(cells.size()) + " columns, more than the " +
                     std::to_string(o.max_columns) + " allowed");
    // A first line none of whose cells is a number is the header (names, once). One with some
    // numbers is a row, whose other cells are errors: "1,NA,3" is not taken for names.
    std::vector<double> row(cells.size());
    bool numbers = true, any_number = false;
    Cell bad = Cell::number;
    std::size_t bad_column = 0;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const Cell kind = parse_number(cells[c], row[c]);
      any_number |= kind != Cell::not_a_number;
      if (kind != Cell::number && numbers) {
        numbers = false;
        bad = kind;
        bad_column = c;
      }
      if (!first_content_line && !numbers) break;
    }
    if (!any_number && first_content_line) {
      for (std::string_view name : cells) table.header.emplace_back(name);
      columns = static_cast<std::int64_t>(cells.size());
      first_content_line = false;
      if (last) break;
      continue;
    }
    first_content_line = false;
    const std::string column = ": column " + std::to_string(bad_column + 1);
    if (bad == Cell::out_of_range)
      throw CsvError(where + column + ": " + excerpt(cells[bad_column]) + " is out of range");
    if (!numbers)
      throw CsvError(where + column + ": " + excerpt(cells[bad_column]) + " is not a number");
    if (columns >= 0 && static_cast<std::int64_t>(cells.size()) != columns)
      throw CsvError(where + ": " + std::to_string(cells.size()) + " columns, expected " +
                     std::to_string(columns));
    columns = static_cast<std::int64_t>(cells.size());
    std::size_t nonfinite = row.size();
    for (std::size_t c = 0; c < row.size() && nonfinite == row.size(); ++c)
      if (!(std::abs(row[c]) <= limit)) nonfinite = c;
    if (nonfinite < row.size()) {
      if (!o.drop_nonfinite)
        throw CsvError(where + ": column " + std::to_string(nonfinite + 1) + ": " +
                       excerpt(cells[nonfinite]) + " is not a finite " + dtype_name(o.dtype) +
                       " value (remove the row, or drop such rows on purpose)");
      ++table.dropped_rows;
      if (last) break;
      continue;
    }
    if (static_cast<std::int64_t>(values.size() + row.size()) > o.max_values)
      throw CsvError(where + ": more than " + std::to_string(o.max_values) + " values");
    values.insert(values.end(), row.begin(), row.end());
    ++rows;
    if (last) break;
  }
  if (in.bad()) throw CsvError(source + ": read error");
  if (rows == 0) throw CsvError(source + ": no data rows");
  table.values = from_vector(values, Shape{rows, columns}, o.dtype);
  return table;
}

CsvTable read_csv(const std::string& path, const CsvOptions& options) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw CsvError("cannot open " + path);
  return parse_csv(f, path, options);
}

}  // namespace flowtape::flows
