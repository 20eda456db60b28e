// SPDX-License-Identifier: MIT
// TrainSpec's JSON form: an exact round trip, and refusal of unknown keys, values of the
// wrong kind or out of range, and invalid settings, each with a message naming the field.
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "flowtape/train/spec.hpp"
#include "flowtape/train/trainer.hpp"

using namespace flowtape;
using namespace flowtape::train;
using nlohmann::json;

namespace {

auto says(const std::string& part) {
  return [part](const std::invalid_argument& e) {
    const bool ok = std::string(e.what()).find(part) != std::string::npos;
    if (!ok) BOOST_TEST_MESSAGE("message was: " << e.what());
    return ok;
  };
}

TrainSpec from(const json& j) {
  return spec_from_json(j.dump());
}

TrainSpec with(const std::string& key, const json& value) {
  json j = json::parse(to_json(TrainSpec{}));
  j[key] = value;
  return from(j);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spec)

BOOST_AUTO_TEST_CASE(json_round_trip_is_exact) {
  TrainSpec c;
  c.loss = Loss::entropic;
  c.path = flows::PathKind::vp_cosine;
  c.solver = solvers::Method::tsit5;
  c.device = Device::cuda;
  c.lambda_max = 0.1 + 0.2;  // not representable in short decimal: needs 17 digits
  c.seed = std::numeric_limits<std::uint64_t>::max();
  c.nll = false;
  c.grad_clip = 1.0 / 3.0;
  c.tilt = EntropicTilt::point;
  c.fdm_official = true;
  c.schedule = LrSchedule::step;
  c.lr_decay = 0.5;
  c.lr_decay_every = 7;
  const TrainSpec back = spec_from_json(to_json(c));
  BOOST_TEST((back == c));
  BOOST_TEST(!(back == TrainSpec{}));
  // A partial object takes the defaults for the rest.
  BOOST_TEST((spec_from_json(R"({"steps": 7})").steps == 7));
  // Choices are written by name.
  BOOST_TEST(json::parse(to_json(c)).at("path").get<std::string>() == "vp");
}

// Every field away from its default, so that a field the JSON forgets (it would come back as
// its default) fails the round trip. A field added to TrainSpec belongs here too.
BOOST_AUTO_TEST_CASE(every_field_round_trips) {
  TrainSpec c;
  c.dataset = "mine";
  c.train_size = 100;
  c.data = "points.csv";
  c.label_column = 2;
  c.labels = "labels.csv";
  c.context = "context.npy";
  c.standardize = true;
  c.holdout = 0.25;
  c.conditional = true;
  c.cond_drop = 0.2;
  c.condition_dim = 16;
  c.conditioning = Conditioning::film;
  c.guidance = 1.5;
  c.path = flows::PathKind::lipman;
  c.sigma = 0.01;
  c.coupling = Coupling::ot;
  c.loss = Loss::fdm;
  c.lambda_max = 0.2;
  c.ramp_start = 0.1;
  c.ramp_end = 0.6;
  c.tilt = EntropicTilt::time_bins;
  c.tilt_bins = 4;
  c.tilt_from = 0.7;
  c.fdm_weight = 0.3;
  c.fdm_official = true;
  c.probes = 3;
  c.probe = flows::ProbeKind::gaussian;
  c.exact_divergence = true;
  c.efm_extra = 64;
  c.hidden = 48;
  c.depth = 4;
  c.activation = nn::Activation::tanh;
  c.time_embedding = c.time_embedding == nn::TimeEmbeddingKind::sinusoidal
                         ? nn::TimeEmbeddingKind::fourier
                         : nn::TimeEmbeddingKind::sinusoidal;
  c.steps = 77;
  c.batch = 96;
  c.lr = 1e-4;
  c.schedule = LrSchedule::step;
  c.warmup = 5;
  c.lr_decay = 0.5;
  c.lr_decay_every = 3;
  c.schedule_steps = 70;
  c.shards = 2;
  c.shard_threads = 2;
  c.weight_decay = 0.01;
  c.grad_clip = 2.0;
  c.seed = 42;
  c.device = Device::cuda;
  c.checkpoint_every = 10;
  c.solver = solvers::Method::rk4;
  c.rtol = 1e-6;
  c.atol = 1e-7;
  c.euler_steps = 50;
  c.eval_samples = 500;
  c.nll = false;
  c.nll_samples = 200;
  const json written = json::parse(to_json(c));
  const json defaults = json::parse(to_json(TrainSpec{}));
  BOOST_TEST(written.size() == defaults.size());
  for (const auto& [key, value] : written.items())
    BOOST_TEST(value != defaults.at(key), key << " is at its default in the test");
  BOOST_TEST((spec_from_json(to_json(c)) == c));
}

BOOST_AUTO_TEST_CASE(unknown_keys_and_wrong_kinds_are_refused_by_name) {
  BOOST_CHECK_EXCEPTION(spec_from_json(R"({"stpes": 7})"), std::invalid_argument,
                        says("unknown key 'stpes'"));
  BOOST_CHECK_EXCEPTION(spec_from_json("[]"), std::invalid_argument,
                        says("expected a JSON object"));
  // nlohmann would convert each of these silently.
  BOOST_CHECK_EXCEPTION(with("steps", true), std::invalid_argument,
                        says("steps must be an integer, got boolean"));
  BOOST_CHECK_EXCEPTION(with("hidden", 2.5), std::invalid_argument,
                        says("hidden must be an integer, got number"));
  BOOST_CHECK_EXCEPTION(with("seed", -1), std::invalid_argument, says("seed = -1 is out of range"));
  BOOST_CHECK_EXCEPTION(with("hidden", 4294967297LL), std::invalid_argument,
                        says("hidden = 4294967297 is out of range"));
  BOOST_CHECK_EXCEPTION(with("lr", "0.1"), std::invalid_argument,
                        says("lr must be a number, got string"));
  BOOST_CHECK_EXCEPTION(with("nll", 1), std::invalid_argument,
                        says("nll must be true or false, got number"));
  BOOST_CHECK_EXCEPTION(with("dataset", 3), std::invalid_argument,
                        says("dataset must be a string, got number"));
  BOOST_CHECK_EXCEPTION(spec_from_json("{\"steps\": "), std::invalid_argument,
                        says("config: not valid JSON"));
  // A choice is one of its names.
  BOOST_CHECK_EXCEPTION(with("loss", "mse"), std::invalid_argument,
                        says("invalid loss 'mse': expected one of cfm, entropic, fdm, efm"));
  BOOST_CHECK_EXCEPTION(with("solver", "rk99"), std::invalid_argument, says("rk99"));
  BOOST_CHECK_EXCEPTION(with("path", 1), std::invalid_argument,
                        says("path must be a string, got number"));
  // Integers are fine where a double is expected.
  BOOST_TEST(with("lr", 1).lr == 1.0);
}

BOOST_AUTO_TEST_CASE(bad_values_are_refused_by_name) {
  auto bad = [](auto set, const std::string& part) {
    TrainSpec c;
    set(c);
    BOOST_CHECK_EXCEPTION(validate(c), std::invalid_argument, says(part));
  };
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  validate(TrainSpec{});  // the defaults are valid
  bad([](TrainSpec& c) { c.lr = 0; }, "invalid lr = 0");
  bad([&](TrainSpec& c) { c.lr = nan; }, "invalid lr");
  bad([](TrainSpec& c) { c.steps = 0; }, "invalid steps = 0");
  // A choice set by a cast to a value that names nothing.
  bad([](TrainSpec& c) { c.loss = static_cast<Loss>(9); }, "invalid loss = 9");
  bad([](TrainSpec& c) { c.dataset = ""; }, "invalid dataset ''");
  // Infinities would be written to config.json as null and break --resume.
  bad([&](TrainSpec& c) { c.rtol = inf; }, "invalid rtol = inf");
  bad([&](TrainSpec& c) { c.atol = inf; }, "invalid atol = inf");
  // Below the least normal f32 the solver would refuse it only at sampling, after the run.
  bad([](TrainSpec& c) { c.atol = 1e-40; }, "the least normal f32");
  bad([&](TrainSpec& c) { c.grad_clip = inf; }, "invalid grad_clip = inf");
  bad([&](TrainSpec& c) { c.weight_decay = inf; }, "invalid weight_decay = inf");
  bad([&](TrainSpec& c) { c.fdm_weight = inf; }, "invalid fdm_weight = inf");
  bad([](TrainSpec& c) { c.tilt_bins = 0; }, "invalid tilt_bins = 0");
  bad([](TrainSpec& c) { c.tilt_from = 1.0; }, "invalid tilt_from = 1");
  bad([](TrainSpec& c) { c.loss = Loss::efm; }, "loss 'efm' needs a finite training set");
  bad([](TrainSpec& c) { c.fdm_official = true; }, "applies to loss 'fdm' only");
  bad(
      [](TrainSpec& c) {
        c.loss = Loss::entropic;
        c.tilt = EntropicTilt::point;
        c.path = flows::PathKind::lipman;
      },
      "the per-point tilt's conditional velocities are the rectified path's");
  bad([](TrainSpec& c) { c.lr_decay = 0; }, "invalid lr_decay = 0");
  bad([](TrainSpec& c) { c.lr_decay_every = 0; }, "invalid lr_decay_every = 0");
  // Names go into JSON, which must be UTF-8: refused now, not at the first save after the run.
  bad([](TrainSpec& c) { c.data = "/d/caf\xe9.csv"; }, "invalid data: not UTF-8");
  bad([](TrainSpec& c) { c.dataset = "\xc0\xaf"; }, "invalid dataset: not UTF-8");  // overlong
  TrainSpec accented;
  accented.data = "/d/caf\xc3\xa9.csv";
  try {
    validate(accented);
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("UTF-8") == std::string::npos);  // valid UTF-8 passes
  }
  // Labels without conditional would be read and then ignored.
  bad(
      [](TrainSpec& c) {
        c.data = "x.csv";
        c.label_column = 2;
      },
      "set conditional");
  // batch is bounded before it is added to (batch + efm_extra overflowed).
  bad(
      [](TrainSpec& c) {
        c.loss = Loss::efm;
        c.train_size = 8;
        c.batch = INT64_MAX;
      },
      "invalid batch");
}

// A huge value in a config file is quoted, not echoed: the message stays short. Sizes are
// bounded before any allocation.
BOOST_AUTO_TEST_CASE(messages_quote_short_excerpts_and_sizes_are_bounded) {
  const std::string huge(std::size_t{1} << 20, 'x');
  for (const json& j : {json{{"dataset", huge}}, json{{huge, 1}}}) {
    try {
      validate(from(j));
      BOOST_FAIL("a megabyte-long value was accepted");
    } catch (const std::invalid_argument& e) {
      BOOST_TEST(std::string(e.what()).size() < 200u);
      BOOST_TEST(std::string(e.what()).find("(1048576 bytes)") != std::string::npos);
    }
  }
  TrainSpec c;
  c.batch = std::int64_t{1} << 30;
  BOOST_CHECK_THROW(validate(c), std::invalid_argument);
  c.batch = 1 << 20;
  c.hidden = 8192;
  BOOST_CHECK_THROW(validate(c), std::invalid_argument);  // ~GiB per step
  c = TrainSpec{};
  c.hidden = 100000;
  BOOST_CHECK_THROW(validate(c), std::invalid_argument);
}

// The dataset is a name the Trainer resolves (a user's own dataset may have any name).
BOOST_AUTO_TEST_CASE(an_unknown_builtin_dataset_is_refused_by_the_trainer) {
  TrainSpec c;
  c.dataset = "nope";
  BOOST_CHECK_EXCEPTION(Trainer{c}, std::invalid_argument, says("unknown dataset 'nope'"));
}

// Every choice's name reads back as the same choice.
BOOST_AUTO_TEST_CASE(every_choice_name_round_trips) {
  const auto check = []<class E>(E) {
    for (const auto& [value, name] : Choices<E>::all) {
      BOOST_TEST((choice_from_name<E>(name, "x") == value));
      BOOST_TEST(std::string(name_of(value)) == name);
    }
  };
  check(Loss{});
  check(EntropicTilt{});
  check(Coupling{});
  check(LrSchedule{});
  check(flows::PathKind{});
  check(flows::ProbeKind{});
  check(nn::Activation{});
  check(nn::TimeEmbeddingKind{});
  check(Device{});
  check(solvers::Method{});
  check(Conditioning{});
}

BOOST_AUTO_TEST_SUITE_END()
