// SPDX-License-Identifier: MIT
// The strict CSV reader: good files (header or not, comments, CRLF, spaces, signs, no final
// newline) and hostile ones, each refused with the line and column and a short excerpt.
#include <boost/test/unit_test.hpp>
#include <sstream>
#include <string>

#include "flowtape/flows/csv.hpp"

using namespace flowtape;
using namespace flowtape::flows;

namespace {

CsvTable parse(const std::string& text, CsvOptions o = {}) {
  std::istringstream in(text);
  return parse_csv(in, "points.csv", o);
}

// The message of the CsvError that parsing `text` throws ("" if none).
std::string error_of(const std::string& text, CsvOptions o = {}) {
  try {
    parse(text, o);
  } catch (const CsvError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(csv)

BOOST_AUTO_TEST_CASE(good_files) {
  const CsvTable t = parse("# made by hand\nx,y\n1,2\r\n -3.5 , +4e-1\n\n5,6");
  BOOST_TEST(t.values.shape() == (Shape{3, 2}));
  BOOST_TEST(t.values.dtype() == DType::f32);
  BOOST_TEST(t.values.to_vector() == (std::vector<double>{1, 2, -3.5, 0.4f, 5, 6}));
  BOOST_TEST(t.header == (std::vector<std::string>{"x", "y"}));
  const CsvTable plain = parse("0.1\n0.2\n", {.dtype = DType::f64});
  BOOST_TEST(plain.values.to_vector() == (std::vector<double>{0.1, 0.2}));
  BOOST_TEST(plain.header.empty());
  BOOST_TEST(parse("1,2,3,4,5,6,7\n").values.shape() == (Shape{1, 7}));
}

BOOST_AUTO_TEST_CASE(cells_must_be_complete_numbers) {
  BOOST_TEST(error_of("1,2\n1,2abc\n") == "points.csv:2: column 2: '2abc' is not a number");
  BOOST_TEST(error_of("1,2\n1,\n") == "points.csv:2: column 2: '' is not a number");
  BOOST_TEST(error_of("1,2\n0x10,1\n") == "points.csv:2: column 1: '0x10' is not a number");
  BOOST_TEST(error_of("1,2\n+-1,1\n") == "points.csv:2: column 1: '+-1' is not a number");
  BOOST_TEST(error_of("1,2\n++1,1\n") == "points.csv:2: column 1: '++1' is not a number");
  BOOST_TEST(error_of("1,2\n1,+\n") == "points.csv:2: column 2: '+' is not a number");
  // A header is only ever the first line, and a line of names only: a first line with a number
  // in it is a row, not names to skip.
  BOOST_TEST(error_of("1,2\nx,y\n") == "points.csv:2: column 1: 'x' is not a number");
  BOOST_TEST(error_of("1,NA,3\n4,5,6\n") == "points.csv:1: column 2: 'NA' is not a number");
  BOOST_TEST(error_of("1,,3\n4,5,6\n") == "points.csv:1: column 2: '' is not a number");
  BOOST_TEST(error_of("x,2\n4,5\n") == "points.csv:1: column 1: 'x' is not a number");
  BOOST_TEST(error_of("1,2\n1e400,0\n") == "points.csv:2: column 1: '1e400' is out of range");
  BOOST_TEST(error_of("a,b\n") == "points.csv: no data rows");
  BOOST_TEST(error_of("1,2\n3\n") == "points.csv:2: 1 columns, expected 2");
  BOOST_TEST(error_of("x,y,z\n1,2\n") == "points.csv:2: 2 columns, expected 3");
}

BOOST_AUTO_TEST_CASE(nonfinite_rows_are_refused_or_dropped_on_request) {
  // nan and inf are numbers, not a header: the row is refused by line, not skipped.
  BOOST_TEST(error_of("nan,1\n2,3\n") ==
             "points.csv:1: column 1: 'nan' is not a finite f32 value (remove the row, or drop "
             "such rows on purpose)");
  BOOST_TEST(error_of("1,2\n3,-inf\n").find("points.csv:2: column 2: '-inf'") == 0u);
  // 1e39 is a double but no f32.
  BOOST_TEST(error_of("1e39,0\n").find("points.csv:1: column 1: '1e39' is not a finite f32") == 0u);
  BOOST_TEST(parse("1e39,0\n", {.dtype = DType::f64}).values.at(0) == 1e39);
  const CsvTable dropped = parse("1,2\nnan,3\n4,inf\n5,6\n", {.drop_nonfinite = true});
  BOOST_TEST(dropped.values.to_vector() == (std::vector<double>{1, 2, 5, 6}));
  BOOST_TEST(dropped.dropped_rows == 2);
}

BOOST_AUTO_TEST_CASE(bounds_before_storage) {
  // An endless line (here: 2 MB of one cell) is refused at the bound, and the message quotes
  // nothing of it.
  const std::string huge(std::size_t{2} << 20, '7');
  const std::string e = error_of("1\n" + huge + "\n");
  BOOST_TEST(e == "points.csv:2: line longer than 1048576 bytes");
  BOOST_TEST(error_of(std::string(100, '\0'), {.max_line_bytes = 50}) ==
             "points.csv:1: line longer than 50 bytes");
  BOOST_TEST(error_of("1,2,3\n", {.max_columns = 2}) ==
             "points.csv:1: 3 columns, more than the 2 allowed");
  BOOST_TEST(error_of("1,2\n3,4\n5,6\n", {.max_values = 4}) == "points.csv:3: more than 4 values");
  // A long bad cell is quoted short.
  const std::string bad = "1," + std::string(5000, 'z') + "\n";
  BOOST_TEST(error_of("1,2\n" + bad).size() < 100u);
  BOOST_CHECK_THROW(read_csv("/nonexistent/points.csv"), CsvError);
}

BOOST_AUTO_TEST_SUITE_END()
