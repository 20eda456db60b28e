// SPDX-License-Identifier: MIT
// TrainConfig's JSON form: an exact round trip, and refusal of unknown keys, values of the
// wrong kind or out of range, and invalid settings, each with a message naming the field.
#include <boost/test/unit_test.hpp>
#include <limits>

#include "examples/app/config.hpp"

using namespace flowtape::app;
using nlohmann::json;

namespace {

auto says(const std::string& part) {
  return [part](const std::invalid_argument& e) {
    const bool ok = std::string(e.what()).find(part) != std::string::npos;
    if (!ok) BOOST_TEST_MESSAGE("message was: " << e.what());
    return ok;
  };
}

TrainConfig with(const std::string& key, const json& value) {
  json j = to_json(TrainConfig{});
  j[key] = value;
  return config_from_json(j);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(json_round_trip_is_exact) {
  TrainConfig c;
  c.loss = "entropic";
  c.lambda_max = 0.1 + 0.2;  // not representable in short decimal: needs 17 digits
  c.seed = std::numeric_limits<std::uint64_t>::max();
  c.nll = false;
  c.grad_clip = 1.0 / 3.0;
  const TrainConfig back = config_from_json(json::parse(to_json(c).dump()));
  BOOST_TEST((back == c));
  BOOST_TEST(!(back == TrainConfig{}));
  // A partial object takes the defaults for the rest.
  BOOST_TEST((config_from_json(json::parse(R"({"steps": 7})")).steps == 7));
}

BOOST_AUTO_TEST_CASE(unknown_keys_and_wrong_kinds_are_refused_by_name) {
  BOOST_CHECK_EXCEPTION(config_from_json(json::parse(R"({"stpes": 7})")), std::invalid_argument,
                        says("unknown key 'stpes'"));
  BOOST_CHECK_EXCEPTION(config_from_json(json::array()), std::invalid_argument,
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
  // Integers are fine where a double is expected.
  BOOST_TEST(with("lr", 1).lr == 1.0);
}

BOOST_AUTO_TEST_CASE(bad_values_are_refused_by_name) {
  auto bad = [](auto set, const std::string& part) {
    TrainConfig c;
    set(c);
    BOOST_CHECK_EXCEPTION(validate(c), std::invalid_argument, says(part));
  };
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  validate(TrainConfig{});  // the defaults are valid
  bad([](TrainConfig& c) { c.lr = 0; }, "invalid lr = 0");
  bad([&](TrainConfig& c) { c.lr = nan; }, "invalid lr");
  bad([](TrainConfig& c) { c.steps = 0; }, "invalid steps = 0");
  bad([](TrainConfig& c) { c.loss = "mse"; }, "invalid loss 'mse': expected one of cfm");
  bad([](TrainConfig& c) { c.dataset = "nope"; }, "nope");
  bad([](TrainConfig& c) { c.solver = "rk99"; }, "rk99");
  // Infinities would be written to config.json as null and break --resume.
  bad([&](TrainConfig& c) { c.rtol = inf; }, "invalid rtol = inf");
  bad([&](TrainConfig& c) { c.atol = inf; }, "invalid atol = inf");
  bad([&](TrainConfig& c) { c.grad_clip = inf; }, "invalid grad_clip = inf");
  bad([&](TrainConfig& c) { c.weight_decay = inf; }, "invalid weight_decay = inf");
  bad([&](TrainConfig& c) { c.fdm_weight = inf; }, "invalid fdm_weight = inf");
  bad([](TrainConfig& c) { c.loss = "efm"; }, "loss 'efm' needs a finite training set");
}

// A huge value in a config file is quoted, not echoed: the message stays short. Sizes are
// bounded before any allocation.
BOOST_AUTO_TEST_CASE(messages_quote_short_excerpts_and_sizes_are_bounded) {
  const std::string huge(std::size_t{1} << 20, 'x');
  for (const json& j : {json{{"dataset", huge}}, json{{huge, 1}}}) {
    try {
      validate(config_from_json(j));
      BOOST_FAIL("a megabyte-long value was accepted");
    } catch (const std::invalid_argument& e) {
      BOOST_TEST(std::string(e.what()).size() < 200u);
      BOOST_TEST(std::string(e.what()).find("(1048576 bytes)") != std::string::npos);
    }
  }
  TrainConfig c;
  c.batch = std::int64_t{1} << 30;
  BOOST_CHECK_THROW(validate(c), std::invalid_argument);
  c.batch = 1 << 20;
  c.hidden = 8192;
  BOOST_CHECK_THROW(validate(c), std::invalid_argument);  // ~GiB per step
  c = TrainConfig{};
  c.hidden = 100000;
  BOOST_CHECK_THROW(validate(c), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
