// SPDX-License-Identifier: MIT
// The `flowtape` command line: its subcommands and options, set up in one place so that the
// program (app/main.cpp) and the option-parsing fuzzer (fuzz/fuzz_cli.cpp) parse
// exactly the same grammar. Construct a CommandLine, call app.parse(argc, argv), then read the
// fields; CLI::ParseError is the caller's to report.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "flowtape/train/spec.hpp"

namespace flowtape::app {

// "{a,b,c}": a choice's names (train::Choices), as its options show and its errors list them.
template <class E>
std::string choice_names() {
  std::string names = "{";
  for (const auto& [value, name] : train::Choices<E>::all)
    names.append(names.size() > 1 ? "," : "").append(name);
  return names.append("}");
}

// Turns a choice's name into the enum's number for CLI11 to store. Only the names are taken
// (CLI11's CheckedTransformer would also take the numbers, and list them in its help).
template <class E>
CLI::Validator choice() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        try {  // the settings' own lookup (train/spec.hpp), in this option's words
          input = std::to_string(static_cast<long long>(train::choice_from_name<E>(input, "")));
          return {};
        } catch (const std::invalid_argument&) {
          return "'" + input + "' is not one of " + choice_names<E>();
        }
      },
      "");
}

// Binds an option to a train::TrainSpec field and remembers how to copy it onto another spec
// when it was given on the command line (so a --config file or a resumed run's spec is the
// base and the command line overrides it). A choice (an enum field) takes its names.
// With `from_run` (the subcommands that read a trained model) a value not given is the run's,
// so the help says that instead of a fresh spec's default.
struct Binder {
  CLI::App* app;
  train::TrainSpec* cli;
  std::vector<std::function<void(train::TrainSpec&)>> overrides;
  bool from_run = false;

  template <class T>
  CLI::Option* option(const std::string& name, T train::TrainSpec::*field,
                      const std::string& help) {
    const bool says_default = help.find("(default") != std::string::npos;
    CLI::Option* o = app->add_option(
        name, cli->*field, from_run && !says_default ? help + " (default: the run's)" : help);
    if constexpr (std::is_enum_v<T>) o->transform(choice<T>())->type_name(choice_names<T>());
    if (from_run)
      ;  // no fresh-spec default shown
    else if constexpr (std::is_enum_v<T>)
      o->default_str(train::name_of(cli->*field));
    else
      o->capture_default_str();
    overrides.push_back([o, field, c = cli](train::TrainSpec& dst) {
      if (o->count() > 0) dst.*field = c->*field;
    });
    return o;
  }
  CLI::Option* flag(const std::string& name, bool train::TrainSpec::*field,
                    const std::string& help) {
    CLI::Option* o = app->add_flag(name, cli->*field, help);
    overrides.push_back([o, field, c = cli](train::TrainSpec& dst) {
      if (o->count() > 0) dst.*field = c->*field;
    });
    return o;
  }
  void apply(train::TrainSpec& dst) const {
    for (const auto& f : overrides) f(dst);
  }
};

// Every subcommand and the variables its options write. Not copyable: the options hold
// pointers into it.
struct CommandLine {
  CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  CLI::App app{"flowtape: flow-matching training with no ML framework"};

  // train
  train::TrainSpec train_cli;
  CLI::App* train = nullptr;
  Binder tb{nullptr, &train_cli, {}};
  std::string config_file, out = "runs/latest";
  bool resume = false, overwrite = false, no_eval = false;  // (--overwrite: sample, eval too)
  std::int64_t keep = 3;  // checkpoints/step-N files kept with --checkpoint-every
  double rank_timeout = 300;  // data-parallel: seconds a rank waits for the others

  // sample / nll / eval share the model, count and seed variables
  std::string model, csv_out = "samples.csv", data_csv, eval_out = "runs/eval";
  bool drop_nonfinite = false;
  std::int64_t n = 1000;
  std::uint64_t sample_seed = 0;
  std::int64_t condition_class = -1;   // sample / nll --class: -1 when not given
  std::string condition_context;       // sample / nll --context "a,b,..."
  std::int64_t nll_label_column = -1;  // nll --label-column: --data's column of class labels
  train::TrainSpec sample_cli, nll_cli, eval_cli;
  CLI::App* sample_cmd = nullptr;
  CLI::App* nll_cmd = nullptr;
  CLI::App* eval_cmd = nullptr;
  Binder sb{nullptr, &sample_cli, {}, /*from_run=*/true};
  Binder nb{nullptr, &nll_cli, {}, /*from_run=*/true};
  Binder eb{nullptr, &eval_cli, {}, /*from_run=*/true};
};

// Parses a program's command line the way every flowtape program does: nullopt to go on, or
// the exit status to return (0 after --help or --version, 2 for a bad command line, with
// CLI11's message on stderr; CLI11's own codes, 105 and up, are not the documented ones).
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

// Runs a program's body: an exception that escapes it is reported on stderr as "error: ..."
// and becomes exit status 1, the documented one, instead of std::terminate's abort.
int run_reporting_errors(const std::function<int()>& body);

// A finite number of at least `least` and at most `most` (CLI11's ranges let nan through).
CLI::Validator finite_at_least(double least, double most = std::numeric_limits<double>::infinity());

}  // namespace flowtape::app
