// SPDX-License-Identifier: MIT
// Conditions: what a conditional velocity field v(x, t, c) is given besides x and t, one per
// row of x:
//   class labels     an i64 tensor [B] of values in [0, classes); -1 means "no condition";
//   context vectors  a floating tensor [B, k]; a row of NaN means "no condition".
// "No condition" (the null condition) is what condition dropout trains the field on and what
// classifier-free guidance contrasts with: v_w(x, t, c) = (1 + w) v(x, t, c) - w v(x, t, null).
// A condition is data: no gradient flows to it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "flowtape/flows/velocity.hpp"

namespace flowtape::flows {

enum class ConditionKind { none, labels, context };

struct ConditionSpec {
  ConditionKind kind = ConditionKind::none;
  std::int64_t classes = 0;  // labels: how many
  std::int64_t dim = 0;      // context: the vector's length

  friend bool operator==(const ConditionSpec&, const ConditionSpec&) = default;
};

std::string describe(const ConditionSpec& spec);  // "none", "10 classes", "context of 3"

using ConditionalField = std::function<Tensor(const Tensor& x, const Tensor& t, const Tensor& c)>;

// Throws std::invalid_argument (naming `who`) unless c is a condition of `spec` for `batch`
// rows: labels i64 [batch] in [-1, classes), context floating [batch, dim].
void check_condition(const ConditionSpec& spec, const Tensor& c, std::int64_t batch,
                     const char* who);

// `batch` null conditions: labels -1, context rows of NaN (on the host).
Tensor null_condition(const ConditionSpec& spec, std::int64_t batch,
                      DType context_dtype = DType::f32);
// c with the rows where keep[i] is false replaced by the null condition.
Tensor drop_condition(const ConditionSpec& spec, const Tensor& c, const std::vector<bool>& keep);
// The same condition for every one of `batch` rows: a label, or one context vector.
Tensor repeat_condition(const ConditionSpec& spec, const Tensor& one, std::int64_t batch);

// v(x, t) = field(x, t, c): a conditional field with its condition fixed, for the solvers,
// sampling, likelihoods and the FDM loss.
VelocityField bind(ConditionalField field, Tensor c);
// Classifier-free guidance: (1 + w) field(x, t, c) - w field(x, t, null), both halves in one
// batched evaluation. w = 0 is bind(field, c) itself.
VelocityField guided(ConditionalField field, Tensor c, const ConditionSpec& spec, double w);

}  // namespace flowtape::flows
