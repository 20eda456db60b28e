// SPDX-License-Identifier: MIT
// Couplings: how a batch of sources x0 is paired with a batch of data x1 before the path is
// sampled. Independent pairing keeps the draw order; minibatch optimal transport re-pairs the
// batch by the exact assignment that minimises the total squared distance (Tong et al.'s
// OT-CFM, Pooladian et al.); fixed pairs hold a training set of (x0, x1) for the
// memorisation study (docs/objectives.md), where the same source must always meet the same target.
//
// Couplings act on data, not on values with gradients. The outputs may be the inputs
// themselves (x0 always; x1 for independent pairing or d = 0): do not write into them.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "flowtape/autodiff/autodiff.hpp"

namespace flowtape::flows {

// The rows of x ([N, ...]) at the given indices, as a new [indices.size(), ...] tensor on x's
// device (for a device tensor, through a copy to the host and back).
Tensor take_rows(const Tensor& x, const std::vector<std::int64_t>& indices);

// Solves the square linear assignment problem exactly: the permutation p minimising
// sum_i cost[i * n + p[i]]. Shortest augmenting paths with potentials (Hungarian method),
// O(n^3) time, O(n) memory besides the cost; n up to a few thousand.
std::vector<std::int64_t> linear_assignment(const std::vector<double>& cost, std::int64_t n);

enum class CouplingKind { independent, minibatch_ot };
CouplingKind coupling_from_name(std::string_view name);  // "independent", "ot"

struct Pair {
  Tensor x0, x1;
};

// Pairs x0 [B, d] with x1 [B, d]. minibatch_ot returns x1's rows reordered so that row i is
// the OT partner of x0's row i (x0 unchanged).
Pair couple(CouplingKind kind, const Tensor& x0, const Tensor& x1);

// Minibatch OT within each class: row i of x0 is paired with a row of x1 of the same label
// (labels: i64 [B]), by the exact assignment within that class, so every class keeps its own
// data and each class's sources stay N(0, I). x1's rows are reordered; a row's label is
// unchanged (it moves within its class).
Pair couple_within_classes(const Tensor& x0, const Tensor& x1, const Tensor& labels);

// A fixed training set of pairs; batches draw pair indices uniformly with replacement.
class FixedPairs {
 public:
  FixedPairs(Tensor x0, Tensor x1);
  Pair batch(std::int64_t size, Generator& gen) const;
  std::int64_t size() const { return x0_.shape()[0]; }
  const Tensor& x0() const { return x0_; }
  const Tensor& x1() const { return x1_; }

 private:
  Tensor x0_, x1_;
};

}  // namespace flowtape::flows
