// SPDX-License-Identifier: MIT
// libFuzzer target: the `flowtape` command's option and config parsing.
//
// An input whose first line is "flowtape" is a command line, one argument per following line,
// parsed by the CLI's own grammar (app/cli.hpp); the train command's settings are then
// validated. Any other input is the text of a --config JSON file: read by
// train::spec_from_json and validated. Bad input must end in CLI::ParseError or
// std::invalid_argument; an accepted spec must round-trip through
// JSON unchanged, since the run folder's config.json and a checkpoint's metadata are how a
// resumed run gets its settings back.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "app/cli.hpp"
#include "flowtape/train/spec.hpp"

using namespace flowtape;
using namespace flowtape::app;

namespace {

void check_round_trip(const train::TrainSpec& c) {
  if (train::spec_from_json(train::to_json(c)) != c) std::abort();
}

void fuzz_json(std::string_view text) {
  train::TrainSpec c;
  try {
    c = train::spec_from_json(text);
    validate(c);
  } catch (const std::invalid_argument&) {
    return;
  }
  check_round_trip(c);
}

void fuzz_command_line(std::string_view text) {
  std::vector<std::string> args;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    args.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (args.size() > 64) return;  // CLI11 is not what a 10 000-argument input would test
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  CommandLine cl;
  try {
    cl.app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError&) {
    return;
  }
  if (!*cl.train) return;
  train::TrainSpec c;  // as `flowtape train` without --config: the defaults, then the options
  cl.tb.apply(c);
  try {
    validate(c);
  } catch (const std::invalid_argument&) {
    return;
  }
  check_round_trip(c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kCommand = "flowtape\n";
  if (text.substr(0, kCommand.size()) == kCommand)
    fuzz_command_line(text);
  else
    fuzz_json(text);
  return 0;
}
