// SPDX-License-Identifier: MIT
// libFuzzer target: the `flowtape` command's option and config parsing.
//
// An input whose first line is "flowtape" is a command line, one argument per following line,
// parsed by the CLI's own grammar (examples/app/cli.hpp); the train command's settings are
// then validated. Any other input is the text of a --config JSON file: parsed, read by
// config_from_json and validated. Bad input must end in CLI::ParseError or
// std::invalid_argument (or a JSON parse error); an accepted config must round-trip through
// JSON unchanged, since the run folder's config.json and a checkpoint's metadata are how a
// resumed run gets its settings back.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "examples/app/cli.hpp"
#include "examples/app/config.hpp"

using namespace flowtape::app;

namespace {

void check_round_trip(const TrainConfig& c) {
  const nlohmann::json j = to_json(c);
  if (config_from_json(nlohmann::json::parse(j.dump())) != c) std::abort();
}

void fuzz_json(std::string_view text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    // parse_error, and out_of_range for a number beyond double ("1e400"): the CLI reports
    // both, naming the file (read_config_file catches json::exception).
    return;
  }
  TrainConfig c;
  try {
    c = config_from_json(j);
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
  TrainConfig c;  // as `flowtape train` without --config: the defaults, then the options
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
