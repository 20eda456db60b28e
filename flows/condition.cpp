// SPDX-License-Identifier: MIT
// Conditions, the null condition and classifier-free guidance; see condition.hpp.
#include "flowtape/flows/condition.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace flowtape::flows {

std::string describe(const ConditionSpec& spec) {
  switch (spec.kind) {
    case ConditionKind::none:
      return "none";
    case ConditionKind::labels:
      return std::to_string(spec.classes) + " classes";
    case ConditionKind::context:
      return "context of " + std::to_string(spec.dim);
  }
  return "?";
}

void check_condition(const ConditionSpec& spec, const Tensor& c, std::int64_t batch,
                     const char* who) {
  const auto bad = [&](const std::string& why) {
    throw std::invalid_argument(std::string(who) + ": " + why);
  };
  switch (spec.kind) {
    case ConditionKind::none:
      if (c.defined()) bad("this field takes no condition");
      return;
    case ConditionKind::labels: {
      if (!c.defined() || c.dtype() != DType::i64 || c.rank() != 1 || c.size(0) != batch)
        bad("expected class labels as an i64 tensor [" + std::to_string(batch) + "], got " +
            (c.defined() ? c.str() : std::string("none")));
      for (double v : c.to_vector())
        if (v < -1 || v >= static_cast<double>(spec.classes))
          bad("label " + std::to_string(static_cast<long long>(v)) + " is outside [0, " +
              std::to_string(spec.classes) + ") (and -1, no condition)");
      return;
    }
    case ConditionKind::context:
      if (!c.defined() || !is_floating(c.dtype()) || c.rank() != 2 || c.size(0) != batch ||
          c.size(1) != spec.dim)
        bad("expected context vectors as a floating tensor [" + std::to_string(batch) + ", " +
            std::to_string(spec.dim) + "], got " + (c.defined() ? c.str() : std::string("none")));
      return;
  }
}

Tensor null_condition(const ConditionSpec& spec, std::int64_t batch, DType context_dtype) {
  switch (spec.kind) {
    case ConditionKind::labels:
      return full(Shape{batch}, -1.0, DType::i64);
    case ConditionKind::context:
      return full(Shape{batch, spec.dim}, std::numeric_limits<double>::quiet_NaN(), context_dtype);
    case ConditionKind::none:
      break;
  }
  return Tensor();
}

Tensor drop_condition(const ConditionSpec& spec, const Tensor& c, const std::vector<bool>& keep) {
  if (spec.kind == ConditionKind::none) return c;
  // (c's shape against the spec too: a context narrower than spec.dim was written past.)
  check_condition(spec, c, static_cast<std::int64_t>(keep.size()), "drop_condition");
  std::vector<double> v = c.to_vector();
  const std::size_t width =
      spec.kind == ConditionKind::context ? static_cast<std::size_t>(spec.dim) : std::size_t{1};
  const double null =
      spec.kind == ConditionKind::labels ? -1.0 : std::numeric_limits<double>::quiet_NaN();
  for (std::size_t i = 0; i < keep.size(); ++i)
    if (!keep[i])
      for (std::size_t j = 0; j < width; ++j) v[i * width + j] = null;
  return from_vector(v, c.shape(), c.dtype()).to(c.device());
}

Tensor repeat_condition(const ConditionSpec& spec, const Tensor& one, std::int64_t batch) {
  // Everything is checked before the batch is allocated.
  if (batch < 0)
    throw std::invalid_argument("repeat_condition: batch must be >= 0, got " +
                                std::to_string(batch));
  if (spec.kind == ConditionKind::none) return Tensor();
  const std::int64_t width = spec.kind == ConditionKind::labels ? 1 : spec.dim;
  if (!one.defined() || one.numel() != width)
    throw std::invalid_argument(spec.kind == ConditionKind::labels
                                    ? std::string("repeat_condition: one label expected")
                                    : "repeat_condition: a context vector of " +
                                          std::to_string(spec.dim) + " values expected, got " +
                                          (one.defined() ? one.str() : std::string("none")));
  const std::vector<double> v = one.to_vector();
  std::vector<double> out;
  out.reserve(v.size() * static_cast<std::size_t>(batch));
  for (std::int64_t i = 0; i < batch; ++i) out.insert(out.end(), v.begin(), v.end());
  if (spec.kind == ConditionKind::labels) return from_vector(out, Shape{batch}, DType::i64);
  return from_vector(out, Shape{batch, spec.dim},
                     is_floating(one.dtype()) ? one.dtype() : DType::f32);
}

VelocityField bind(ConditionalField field, Tensor c) {
  return [field = std::move(field), c = std::move(c)](const Tensor& x, const Tensor& t) {
    return field(x, t, c);
  };
}

VelocityField guided(ConditionalField field, Tensor c, const ConditionSpec& spec, double w) {
  if (!std::isfinite(w)) throw std::invalid_argument("guided: the guidance scale must be finite");
  if (w != 0 && spec.kind == ConditionKind::none)
    throw std::invalid_argument(
        "guided: guidance needs a conditional field (the spec's kind is "
        "none)");
  check_condition(spec, c, c.defined() && c.rank() > 0 ? c.size(0) : 0, "guided");
  if (w == 0) return bind(std::move(field), std::move(c));
  const std::int64_t batch = c.size(0);
  Tensor both = concat({c, null_condition(spec, batch, c.dtype()).to(c.device())}, 0);
  return [field = std::move(field), both = std::move(both), batch, w](const Tensor& x,
                                                                      const Tensor& t) {
    // Solvers hand t as a [B, 1] column; a single time broadcasts to the doubled batch too.
    const Tensor tt = t.numel() == 1 ? t : concat({t, t}, 0);
    const Tensor v = field(concat({x, x}, 0), tt, both);
    return (1.0 + w) * slice(v, 0, 0, batch) - w * slice(v, 0, batch, 2 * batch);
  };
}

}  // namespace flowtape::flows
