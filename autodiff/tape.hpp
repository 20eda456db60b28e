// SPDX-License-Identifier: MIT
// Tape: the Wengert list of reverse mode, and the scopes that control recording.
//
// While a Tape is alive it is the active tape of its thread (one per thread). Each op whose
// inputs include a tensor tracked on it appends a node; gradient() walks the nodes backwards
// once, accumulating adjoints by slot. Destroying the tape (or reset()) frees everything the
// step saved, so memory does not grow from step to step.
//
//   Tape tape;
//   tape.watch(w);                         // w is a leaf we want d/dw of
//   Tensor loss = mean(square(matmul(x, w) - y));
//   Tensor dw = tape.gradient(loss, {w})[0];
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "flowtape/autodiff/op.hpp"
#include "flowtape/runtime/tensor.hpp"

namespace flowtape {

struct GradientOptions {
  // Cotangent of the output; required when the output has more than one element.
  Tensor seed;
  // Record the backward ops on this tape, so the gradient can itself be differentiated
  // (reverse-over-reverse).
  bool create_graph = false;
};

class Tape {
 public:
  Tape();
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // The active tape of this thread, or nullptr.
  static Tape* active();

  // Starts tracking x as a leaf (x's handle and all its copies see it; x itself is not
  // written, so other threads may watch it on their own tapes at once). Returns x.
  const Tensor& watch(const Tensor& x);
  void watch(std::span<const Tensor> xs);
  // Whether x is recorded on this tape (watched, or computed from a watched tensor).
  bool tracks(const Tensor& x) const;

  // d y / d wrt for each tensor of wrt. wrt entries must be tracked on this tape; one that y
  // does not depend on gets zeros. Results are handles, as everywhere: two of them, or one and
  // the seed, may share a buffer (add's and sum's rules hand their cotangent on as it is), so
  // copy() a gradient before writing into it.
  std::vector<Tensor> gradient(const Tensor& y, std::span<const Tensor> wrt,
                               const GradientOptions& options = {});
  std::vector<Tensor> gradient(const Tensor& y, std::initializer_list<Tensor> wrt,
                               const GradientOptions& options = {}) {
    return gradient(y, std::span<const Tensor>(wrt.begin(), wrt.size()), options);
  }

  std::size_t num_nodes() const { return nodes_.size(); }
  // What was recorded, for reading (tape_inspect.cpp): one line per node, "%3 = tanh(%2) ->
  // [64, 16] f32", where %N is a tracked tensor's slot and untracked inputs show as constants;
  // or the same graph in Graphviz's dot language (`dot -Tsvg`).
  std::string dump() const;
  std::string to_dot() const;
  // The op of each recorded node, in order: which primitives a computation used.
  std::vector<const OpDef*> ops() const;
  // Forgets everything recorded: the tape starts over with a new identity.
  void reset();

  // --- engine internals (used by apply() and the verbs) -------------------------------------
  // Appends a node for `outputs = op(inputs)` and gives each differentiable output a slot.
  void record(const OpDef& op, TensorList inputs, Inputs outputs, const Attrs& attrs);
  // The backward walk over nodes [first_node, end) from outputs ys with cotangents seeds (one
  // each), recording the rules' ops when create_graph is set.
  std::vector<Tensor> gradient_from(std::span<const Tensor> ys, std::span<const Tensor> seeds,
                                    std::span<const Tensor> wrt, bool create_graph,
                                    std::size_t first_node);

 private:
  struct Node {
    // (A constructor, so that emplace_back builds the node in place on every compiler.)
    Node(const OpDef* op_, TensorList inputs_, const Attrs& attrs_, std::size_t first_version_)
        : op(op_), inputs(std::move(inputs_)), attrs(attrs_), first_version(first_version_) {}
    const OpDef* op;
    TensorList inputs;
    // The differentiable outputs, then the residuals (see OpDef); op->outputs + residuals used.
    std::array<Tensor, OpDef::kMaxOutputs> outputs;
    Attrs attrs;
    std::size_t first_version;  // where its tensors' versions start in versions_
  };
  // A watched tensor and its slot. Watched tensors are shared (a model's parameters, which
  // several threads may differentiate at once), so the tape keeps their slots here instead of
  // writing into them; holding them also keeps their addresses theirs.
  struct Leaf {
    std::shared_ptr<TensorImpl> tensor;
    std::int64_t slot;
  };
  struct Lists {
    std::vector<Node> nodes;
    std::vector<Leaf> leaves;
    std::vector<std::uint32_t> versions;
  };
  // x's adjoint slot on this tape, or -1.
  std::int64_t slot_of(const Tensor& x) const;
  std::int64_t new_slot(TensorImpl& t);
  static std::uint64_t filter_bit(const TensorImpl* impl);
  // Throws, naming the tensor, if one the node keeps was written since it was recorded.
  void check_unwritten(const Node& node) const;
  static Lists* spare_lists();

  std::uint64_t id_;
  std::int64_t num_slots_ = 0;
  std::vector<Node> nodes_;
  std::vector<Leaf> leaves_;
  // The storage version (Storage::version) of each input and output of each node, as recorded.
  std::vector<std::uint32_t> versions_;
  std::uint64_t leaf_filter_ = 0;  // one bit per watched address: most misses cost one test
  // Past kManyLeaves watched tensors the filter is mostly ones and the list long: an index then
  // finds a slot in constant time (small models never build it, and make no heap call for it).
  static constexpr std::size_t kManyLeaves = 64;
  std::unordered_map<const TensorImpl*, std::int64_t> leaf_index_;
};

// Suspends recording on this thread for its lifetime (the optimizer update, evaluation).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

// Whether ops run now are recorded (a tape is active and no NoGrad is in force).
bool recording();

namespace detail {
// Sets whether ops are recorded for its lifetime (NoGrad is RecordingScope(false)).
struct RecordingScope {
  explicit RecordingScope(bool on);
  ~RecordingScope();
  bool previous;
};
// For its lifetime no tape is active on this thread (the active one, if any, is set aside and
// comes back after): a verb called under NoGrad differentiates on a tape of its own.
struct ActiveTapeAside {
  ActiveTapeAside();
  ~ActiveTapeAside();
  ActiveTapeAside(const ActiveTapeAside&) = delete;
  ActiveTapeAside& operator=(const ActiveTapeAside&) = delete;
  Tape* saved;
};
// Forward mode nests: the jvp() at nesting depth k attaches tangents of level k. Tangents of
// levels 1..tangent_depth() propagate through ops: those of every running jvp(), except while
// the JVP rule of a level-k tangent runs, when only the outer levels 1..k-1 do (the rule's ops
// carry the outer tangents, which is forward-over-forward) and TangentsOff, which stops all.
int jvp_depth();
int tangent_depth();
bool tangents_enabled();  // tangent_depth() > 0
struct TangentDepth {
  explicit TangentDepth(int depth);  // lowers tangent_depth() to depth for its lifetime
  ~TangentDepth();
  int previous;
};
struct TangentsOff : TangentDepth {
  TangentsOff() : TangentDepth(0) {}
};
struct ForwardModeScope {
  ForwardModeScope();  // one level deeper; throws past TensorImpl::kMaxJvpDepth
  ~ForwardModeScope();
  int depth;
  int previous_tangent_depth;
  std::uint64_t previous_generation = 0;
};
}  // namespace detail

}  // namespace flowtape
