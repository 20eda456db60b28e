// SPDX-License-Identifier: MIT
// Shared helpers of the trainer tests: small, fast training configs, a per-process scratch folder,
// and bitwise comparison of models.
#pragma once

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "flowtape/train/trainer.hpp"

namespace flowtape::train::test {

// A few seconds of training at most: a tiny MLP on the 2-D rings, constant learning rate (so
// a run's schedule does not depend on its length).
inline TrainSpec small_config(const std::string& loss, std::uint64_t seed = 3) {
  TrainSpec c;
  c.dataset = "rings";
  c.loss = choice_from_name<Loss>(loss, "loss");
  c.hidden = 16;
  c.depth = 2;
  c.batch = 32;
  c.steps = 6;
  c.lr = 1e-3;
  c.schedule = LrSchedule::constant;
  c.seed = seed;
  if (loss == "efm") {
    c.train_size = 64;
    c.efm_extra = 16;
  }
  if (loss == "entropic") c.ramp_end = 0.5;  // lambda changes during the run
  return c;
}

// A scratch folder per process (ctest runs the suites in parallel).
struct Scratch {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("flowtape_app_test_" + std::to_string(::getpid()));
  Scratch() { std::filesystem::create_directories(dir); }
  ~Scratch() { std::filesystem::remove_all(dir); }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whether every parameter and buffer of the two models has the same bits.
inline bool same_weights(const nn::Module& a, const nn::Module& b) {
  const nn::NamedTensors sa = a.state_dict(), sb = b.state_dict();
  if (sa.size() != sb.size()) return false;
  for (std::size_t i = 0; i < sa.size(); ++i) {
    const Tensor &x = sa[i].second, &y = sb[i].second;
    if (sa[i].first != sb[i].first || !(x.shape() == y.shape()) || x.dtype() != y.dtype())
      return false;
    const auto bytes = static_cast<std::size_t>(x.numel()) * dtype_size(x.dtype());
    if (std::memcmp(x.raw_data(), y.raw_data(), bytes) != 0) return false;
  }
  return true;
}

}  // namespace flowtape::train::test
