// SPDX-License-Identifier: MIT
// TrainSpec's JSON form and its validation.
#include "flowtape/train/spec.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "flowtape/solvers/options.hpp"

namespace flowtape::train {

// Every field once: the JSON key is the member's name.
#define FLOWTAPE_SPEC_FIELDS(X)                                                                 \
  X(dataset)                                                                                    \
  X(train_size)                                                                                 \
  X(data)                                                                                       \
  X(label_column)                                                                               \
  X(labels)                                                                                     \
  X(context)                                                                                    \
  X(standardize)                                                                                \
  X(holdout) X(conditional) X(cond_drop) X(condition_dim) X(conditioning) X(guidance) X(path)   \
      X(sigma) X(coupling) X(loss) X(lambda_max) X(ramp_start) X(ramp_end) X(tilt) X(tilt_bins) \
          X(tilt_from) X(fdm_weight) X(fdm_official) X(probes) X(probe) X(exact_divergence)     \
              X(efm_extra) X(hidden) X(depth) X(activation) X(time_embedding) X(steps) X(batch) \
                  X(lr) X(schedule) X(warmup) X(lr_decay) X(lr_decay_every) X(schedule_steps)   \
                      X(shards) X(shard_threads) X(weight_decay) X(grad_clip) X(seed) X(device) \
                          X(checkpoint_every) X(solver) X(rtol) X(atol) X(euler_steps)          \
                              X(eval_samples) X(nll) X(nll_samples)

std::int64_t schedule_horizon(const TrainSpec& s) {
  return s.schedule_steps > 0 ? s.schedule_steps : s.steps;
}

bool has_horizon(const TrainSpec& s) {
  return s.schedule == LrSchedule::cosine || (s.loss == Loss::entropic && s.ramp_end > 0);
}

namespace {

template <class T>
nlohmann::json json_value(const T& v) {
  return v;
}
template <class E>
requires std::is_enum_v<E> nlohmann::json json_value(const E& v) {
  return name_of(v);
}

}  // namespace

std::string to_json(const TrainSpec& s) {
  nlohmann::ordered_json j;
#define X(f) j[#f] = json_value(s.f);
  FLOWTAPE_SPEC_FIELDS(X)
#undef X
  return j.dump();
}

namespace {

// Strict readers: nlohmann's get_to converts between numbers and booleans silently ("steps":
// true is 1, "hidden": 2.7 is 2, "seed": -1 wraps, "hidden": 4294967297 is 1). A config value
// of the wrong kind or out of range is refused, naming the field.
[[noreturn]] void bad_type(const char* field, const nlohmann::json& v, const char* want) {
  throw std::invalid_argument(std::string("config: ") + field + " must be " + want + ", got " +
                              v.type_name());
}

void read(const nlohmann::json& v, const char* field, std::string& out) {
  if (!v.is_string()) bad_type(field, v, "a string");
  out = v.get<std::string>();
}

void read(const nlohmann::json& v, const char* field, bool& out) {
  if (!v.is_boolean()) bad_type(field, v, "true or false");
  out = v.get<bool>();
}

void read(const nlohmann::json& v, const char* field, double& out) {
  if (!v.is_number()) bad_type(field, v, "a number");
  out = v.get<double>();
}

template <class E>
requires std::is_enum_v<E>
void read(const nlohmann::json& v, const char* field, E& out) {
  if (!v.is_string()) bad_type(field, v, "a string");
  out = choice_from_name<E>(v.get<std::string>(), field);
}

template <class Int>
requires std::is_integral_v<Int>
void read(const nlohmann::json& v, const char* field, Int& out) {
  if (!v.is_number_integer()) bad_type(field, v, "an integer");
  const bool fits = v.is_number_unsigned()
                        ? v.get<std::uint64_t>() <= std::uint64_t{std::numeric_limits<Int>::max()}
                        : std::in_range<Int>(v.get<std::int64_t>());
  if (!fits)
    throw std::invalid_argument(std::string("config: ") + field + " = " + v.dump() +
                                " is out of range");
  out = v.get<Int>();
}

}  // namespace

TrainSpec spec_from_json(std::string_view text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("config: not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw std::invalid_argument("config: expected a JSON object");
  static const std::set<std::string> known = {
#define X(f) #f,
      FLOWTAPE_SPEC_FIELDS(X)
#undef X
  };
  for (const auto& [key, value] : j.items()) {
    if (!known.count(key))
      throw std::invalid_argument("config: unknown key " + flows::excerpt(key));
  }
  TrainSpec c;
#define X(f) \
  if (auto it = j.find(#f); it != j.end()) read(*it, #f, c.f);
  FLOWTAPE_SPEC_FIELDS(X)
#undef X
  return c;
}

namespace {
template <class T>
void require(bool ok, const char* field, const T& value, const std::string& why) {
  if (ok) return;
  std::ostringstream m;
  m << "invalid " << field << " = " << value << ": " << why;
  throw std::invalid_argument(m.str());
}

// An enum field set by a cast to a value with no name.
template <class E>
void named(E value, const char* field) {
  if (std::string_view(name_of(value)) == "?")
    throw std::invalid_argument("invalid " + std::string(field) + " = " +
                                std::to_string(static_cast<int>(value)) +
                                ": not one of its choices");
}
// Whether text is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF), what nlohmann::json's dump() accepts.
bool valid_utf8(const std::string& text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    int extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++p;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    static constexpr std::uint32_t kLeast[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kLeast[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += extra + 1;
  }
  return true;
}

}  // namespace

void validate(const TrainSpec& c) {
  // (Names are short: the library's messages quote a name whole, so a long one stops here.)
  if (c.dataset.empty() || c.dataset.size() > 64)
    throw std::invalid_argument("invalid dataset " + flows::excerpt(c.dataset) +
                                ": a name of 1 to 64 characters");
  require(c.train_size >= 0 && c.train_size <= (std::int64_t{1} << 26), "train_size", c.train_size,
          "must be in [0, 67108864]");
  for (const auto& [field, path] : {std::pair<const char*, const std::string&>{"data", c.data},
                                    {"labels", c.labels},
                                    {"context", c.context}})
    if (path.size() > 4096)
      throw std::invalid_argument(std::string("invalid ") + field + " " + flows::excerpt(path) +
                                  ": a path of at most 4096 characters");
  // The names travel in JSON (config.json, a checkpoint's metadata), which must be UTF-8: a
  // path in another encoding would otherwise fail the first save, after the whole run.
  for (const auto& [field, text] :
       {std::pair<const char*, const std::string&>{"dataset", c.dataset},
        {"data", c.data},
        {"labels", c.labels},
        {"context", c.context}})
    if (!valid_utf8(text))
      throw std::invalid_argument(std::string("invalid ") + field +
                                  ": not UTF-8 text (rename the file, or give its path in UTF-8)");
  const int condition_sources = (c.label_column >= 0) + !c.labels.empty() + !c.context.empty();
  require(c.label_column >= -1, "label_column", c.label_column, "must be >= 0, or -1 (none)");
  require(condition_sources == 0 || c.conditional, "conditional", "false",
          "label_column, labels and context condition the model: set conditional");
  require(condition_sources <= 1, "labels", flows::excerpt(c.labels),
          "give one of label_column, labels and context");
  require(c.data.empty() ? condition_sources == 0 : true, "data", "''",
          "label_column, labels and context describe a data file; name it with data");
  require(c.data.empty() || c.train_size == 0, "train_size", c.train_size,
          "is for built-in datasets; a data file is the training set");
  require(!c.standardize || !c.data.empty(), "standardize", "true",
          "standardises a data file's columns; name one with data");
  require(std::isfinite(c.holdout) && c.holdout >= 0 && c.holdout < 1, "holdout", c.holdout,
          "must be a fraction in [0, 1)");
  require(c.holdout == 0 || !c.data.empty(), "holdout", c.holdout,
          "holds out rows of a data file; name one with data");
  require(std::isfinite(c.cond_drop) && c.cond_drop >= 0 && c.cond_drop < 1, "cond_drop",
          c.cond_drop, "must be a fraction in [0, 1)");
  require(c.condition_dim >= 1 && c.condition_dim <= 4096, "condition_dim", c.condition_dim,
          "must be in [1, 4096]");
  require(std::isfinite(c.guidance), "guidance", c.guidance, "must be finite");
  // Guidance contrasts with the null condition, which only condition dropout trains: refused
  // here, not at the first sample after a whole training run.
  require(c.guidance == 0 || (c.conditional && c.cond_drop > 0), "guidance", c.guidance,
          "needs a conditional model trained with cond_drop > 0 (its null condition is "
          "otherwise untrained); use guidance 0");
  named(c.conditioning, "conditioning");
  if (c.conditional) {
    require(c.loss != Loss::efm || c.context.empty(), "loss", "efm",
            "the conditional EFM target is a closed form per class; with context vectors use "
            "cfm, entropic or fdm");
    require(c.coupling != Coupling::fixed, "coupling", "fixed",
            "fixed pairs are unconditional; use independent or ot");
    require(c.coupling != Coupling::ot || c.context.empty(), "coupling", "ot",
            "minibatch OT pairs within a class; with context vectors use independent");
  }
  require(c.data.empty() || (c.loss != Loss::efm && c.coupling != Coupling::fixed), "data",
          flows::excerpt(c.data),
          "efm and coupling fixed need a fixed training set drawn from a built-in dataset");
  named(c.path, "path");
  require(std::isfinite(c.sigma) && c.sigma >= 0, "sigma", c.sigma, "must be finite and >= 0");
  if (c.path == flows::PathKind::independent)
    require(c.sigma > 0, "sigma", c.sigma, "the independent path needs sigma > 0");
  if (c.path == flows::PathKind::lipman)
    require(c.sigma < 1, "sigma", c.sigma, "sigma_min must be < 1");
  named(c.coupling, "coupling");
  if (c.coupling == Coupling::fixed) {
    require(c.train_size > 0, "train_size", c.train_size,
            "coupling 'fixed' needs a fixed training set (train_size > 0)");
  }
  named(c.loss, "loss");
  if (c.loss == Loss::efm) {
    require(c.path == flows::PathKind::rectified || c.path == flows::PathKind::lipman, "path",
            name_of(c.path),
            "the EFM target is the closed-form velocity of the rectified / lipman path");
    require(c.train_size > 0, "train_size", c.train_size,
            "loss 'efm' needs a finite training set (train_size > 0)");
  }
  require(std::isfinite(c.lambda_max), "lambda_max", c.lambda_max, "must be finite");
  const bool point_tilt = c.loss == Loss::entropic && c.tilt == EntropicTilt::point;
  if (point_tilt) {
    require(c.path == flows::PathKind::rectified, "path", name_of(c.path),
            "the per-point tilt's conditional velocities are the rectified path's");
    require(!c.conditional, "conditional", "true", "the per-point tilt is unconditional");
    require(c.lambda_max < 0.5, "lambda_max", c.lambda_max,
            "the per-point tilt needs lambda < 1/2 (above it far references dominate at every t)");
  }
  require(c.batch >= 1 && c.batch <= (std::int64_t{1} << 24), "batch", c.batch,
          "must be in [1, 16777216]");
  if (c.loss == Loss::efm || point_tilt) {
    require(c.efm_extra >= 0 && c.efm_extra <= (std::int64_t{1} << 24), "efm_extra", c.efm_extra,
            "must be in [0, 16777216]");
    // Both build [batch, batch + efm_extra] posterior weights every step.
    require(static_cast<double>(c.batch) * static_cast<double>(c.batch + c.efm_extra) <=
                static_cast<double>(std::int64_t{1} << 30),
            "efm_extra", c.efm_extra,
            "with batch needs batch x (batch + efm_extra) <= 2^30 posterior weights per step");
  }
  require(c.tilt_bins >= 1 && c.tilt_bins <= 1000, "tilt_bins", c.tilt_bins,
          "must be in [1, 1000]");
  require(c.tilt_from > 0 && c.tilt_from < 1, "tilt_from", c.tilt_from, "must be in (0, 1)");
  require(c.ramp_start >= 0 && c.ramp_start <= 1, "ramp_start", c.ramp_start,
          "must be a fraction in [0, 1]");
  require(c.ramp_end == 0 || (c.ramp_end > c.ramp_start && c.ramp_end <= 1), "ramp_end", c.ramp_end,
          "must be 0 (constant lambda) or a fraction in (ramp_start, 1]");
  require(std::isfinite(c.fdm_weight) && c.fdm_weight >= 0, "fdm_weight", c.fdm_weight,
          "must be finite and >= 0");
  if (c.fdm_official)
    require(c.loss == Loss::fdm, "fdm_official", "true", "applies to loss 'fdm' only");
  require(c.probes >= 1 && c.probes <= 4096, "probes", c.probes, "must be in [1, 4096]");
  named(c.probe, "probe");
  // Sizes are bounded before anything is allocated, so a typo is refused in words, not by
  // std::bad_alloc or the kernel's OOM killer minutes later.
  require(c.hidden >= 1 && c.hidden <= 65536, "hidden", c.hidden, "must be in [1, 65536]");
  require(c.depth >= 1 && c.depth <= 1024, "depth", c.depth, "must be in [1, 1024]");
  named(c.activation, "activation");
  named(c.time_embedding, "time_embedding");
  require(c.steps >= 1, "steps", c.steps, "must be >= 1");
  // One step's memory: the activations (batch x hidden per layer, a few copies each: forward
  // values, saved inputs, gradients) and the weights with their gradients and Adam's two
  // moments, in f32; beyond 64 GiB no machine of ours trains it.
  const double width = static_cast<double>(c.hidden), layers = static_cast<double>(c.depth + 2);
  const double step_bytes = static_cast<double>(c.batch) * width * layers * 4.0 * 8.0 +
                            width * width * layers * 4.0 * 4.0;
  require(step_bytes <= 64.0 * (1ull << 30), "batch", c.batch,
          "with hidden and depth needs about " + std::to_string(step_bytes / (1ull << 30)) +
              " GiB per step; lower batch, hidden or depth");
  if (c.coupling == Coupling::ot)
    require(c.batch <= 4096, "batch", c.batch,
            "minibatch OT is exact and O(B^3): use batch <= 4096");
  require(std::isfinite(c.lr) && c.lr > 0, "lr", c.lr, "must be > 0");
  named(c.schedule, "schedule");
  require(c.warmup >= 0, "warmup", c.warmup, "must be >= 0");
  require(std::isfinite(c.lr_decay) && c.lr_decay > 0 && c.lr_decay <= 1, "lr_decay", c.lr_decay,
          "must be in (0, 1]");
  require(c.lr_decay_every >= 1, "lr_decay_every", c.lr_decay_every, "must be >= 1");
  require(c.shards >= 1 && c.shards <= 4096 && (c.shards & (c.shards - 1)) == 0, "shards", c.shards,
          "must be a power of two in [1, 4096]");
  require(c.batch % c.shards == 0, "shards", c.shards,
          "must divide batch (" + std::to_string(c.batch) + ") into equal micro-batches");
  require(c.shard_threads >= 1 && c.shard_threads <= 256, "shard_threads", c.shard_threads,
          "must be in [1, 256]");
  if (c.device == Device::cuda)
    require(c.shard_threads == 1, "shard_threads", c.shard_threads,
            "device cuda computes its shards on one thread (one GPU per process or rank)");
  require(c.schedule_steps >= 0, "schedule_steps", c.schedule_steps, "must be >= 0 (0: steps)");
  if (c.schedule != LrSchedule::constant) {
    require(c.warmup < schedule_horizon(c), "warmup", c.warmup,
            "must be shorter than the run (steps, or schedule_steps when set)");
  }
  require(std::isfinite(c.weight_decay) && c.weight_decay >= 0, "weight_decay", c.weight_decay,
          "must be finite and >= 0");
  require(std::isfinite(c.grad_clip) && c.grad_clip >= 0, "grad_clip", c.grad_clip,
          "must be finite and >= 0 (0 turns clipping off)");
  require(c.checkpoint_every >= 0, "checkpoint_every", c.checkpoint_every, "must be >= 0");
  named(c.device, "device");
  named(c.solver, "solver");
  require(std::isfinite(c.rtol) && c.rtol > 0, "rtol", c.rtol, "must be finite and > 0");
  require(std::isfinite(c.atol) && c.atol > 0, "atol", c.atol, "must be finite and > 0");
  // The models sample in f32, where an adaptive solver's error scale cannot hold less (the
  // solver would refuse it at the first evaluation, after the whole run).
  require(c.atol >= static_cast<double>(std::numeric_limits<float>::min()), "atol", c.atol,
          "must be at least 1.2e-38, the least normal f32 (the states are f32)");
  // (The solver's own limit on steps, refused here rather than after a whole training run.)
  const long max_steps = solvers::IntegrateOptions{}.max_steps;
  require(c.euler_steps >= 1 && c.euler_steps <= max_steps, "euler_steps", c.euler_steps,
          "must be in [1, " + std::to_string(max_steps) + "]");
  require(c.eval_samples >= 2 && c.eval_samples <= (std::int64_t{1} << 24), "eval_samples",
          c.eval_samples, "must be in [2, 16777216]");
  require(c.nll_samples >= 1 && c.nll_samples <= (std::int64_t{1} << 24), "nll_samples",
          c.nll_samples, "must be in [1, 16777216]");
}

}  // namespace flowtape::train
