// SPDX-License-Identifier: MIT
// The tape, the recording scopes and the backward walk.
#include "flowtape/autodiff/tape.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "flowtape/autodiff/ops.hpp"

namespace flowtape {
namespace {
thread_local Tape* t_active = nullptr;
thread_local bool t_no_grad = false;
thread_local int t_jvp_depth = 0;        // jvp() calls running
thread_local int t_tangent_depth = 0;    // tangent levels 1..this propagate
thread_local bool t_spare_gone = false;  // trivially destructible: valid until thread exit
std::atomic<std::uint64_t> g_next_tape_id{1};
}  // namespace

// A training loop makes one tape per step. Each tape's node and leaf lists start with the
// capacity the last ones on its thread reached (handed over by ~Tape), so recording makes no
// heap calls after the first step. Node lists of more than kMaxSpareNodes (a node is a few
// hundred bytes; a training step records tens to hundreds) are freed instead, so one long tape
// (the backward pass through a long solve) does not hold its list's memory for the rest of
// the thread.
constexpr std::size_t kMaxSpareNodes = 8192;
constexpr std::size_t kMaxSpareVersions = 8 * kMaxSpareNodes;  // (a node's inputs and outputs)

// This thread's spare lists; nullptr once they are destroyed (a tape that outlives its
// thread's thread_locals, as a static one may).
Tape::Lists* Tape::spare_lists() {
  if (t_spare_gone) return nullptr;
  struct Spare {
    Lists lists;
    ~Spare() { t_spare_gone = true; }
  };
  thread_local Spare spare;
  return &spare.lists;
}

Tape::Tape() : id_(g_next_tape_id.fetch_add(1)) {
  if (t_active)
    throw std::logic_error(
        "Tape: a tape is already active on this thread. flowtape keeps one tape per thread; for "
        "higher-order derivatives call grad()/vjp() inside the active tape, or use "
        "GradientOptions::create_graph");
  t_active = this;
  if (Lists* spare = spare_lists()) {
    nodes_.swap(spare->nodes);
    leaves_.swap(spare->leaves);
    versions_.swap(spare->versions);
  }
}

Tape::~Tape() {
  if (t_active == this) t_active = nullptr;
  nodes_.clear();  // frees what the step kept
  leaves_.clear();
  versions_.clear();
  Lists* spare = spare_lists();
  if (!spare) return;
  // Each list by its own bound: the versions (a few per node) and leaves of a tape too long
  // for its nodes to be kept are not kept either.
  if (versions_.capacity() > spare->versions.capacity() &&
      versions_.capacity() <= kMaxSpareVersions)
    spare->versions.swap(versions_);
  if (nodes_.capacity() > spare->nodes.capacity() && nodes_.capacity() <= kMaxSpareNodes)
    spare->nodes.swap(nodes_);
  if (leaves_.capacity() > spare->leaves.capacity() && leaves_.capacity() <= kMaxSpareNodes)
    spare->leaves.swap(leaves_);
}

Tape* Tape::active() { return t_active; }
bool recording() { return t_active != nullptr && !t_no_grad; }

void Tape::reset() {
  nodes_.clear();
  leaves_.clear();
  leaf_index_.clear();
  versions_.clear();
  leaf_filter_ = 0;
  num_slots_ = 0;
  id_ = g_next_tape_id.fetch_add(1);
}

std::int64_t Tape::new_slot(TensorImpl& t) {
  t.tape_id = id_;
  t.slot = num_slots_++;
  return t.slot;
}

// One bit of the watched tensors' filter per address (a multiplicative hash's top 6 bits).
std::uint64_t Tape::filter_bit(const TensorImpl* impl) {
  return std::uint64_t{1} << ((reinterpret_cast<std::uintptr_t>(impl) * 0x9E3779B97F4A7C15ull) >>
                              58);
}

std::int64_t Tape::slot_of(const Tensor& x) const {
  if (!x.defined()) return -1;
  const TensorImpl* impl = x.impl();
  if (impl->tape_id == id_) return impl->slot;  // computed by an op on this tape
  if (!(leaf_filter_ & filter_bit(impl))) return -1;
  if (!leaf_index_.empty()) {
    const auto it = leaf_index_.find(impl);
    return it == leaf_index_.end() ? -1 : it->second;
  }
  for (const Leaf& leaf : leaves_)
    if (leaf.tensor.get() == impl) return leaf.slot;
  return -1;
}

bool Tape::tracks(const Tensor& x) const {
  return slot_of(x) >= 0;
}

const Tensor& Tape::watch(const Tensor& x) {
  if (!x.defined()) throw std::invalid_argument("Tape::watch: the tensor is undefined");
  if (!is_floating(x.dtype()))
    throw std::invalid_argument("Tape::watch: " + x.str() +
                                " is not floating-point; only f32 and f64 tensors have gradients");
  if (tracks(x)) return x;
  leaves_.push_back(Leaf{x.impl_ptr(), num_slots_++});
  leaf_filter_ |= filter_bit(x.impl());
  if (leaves_.size() == kManyLeaves)
    for (const Leaf& leaf : leaves_) leaf_index_.emplace(leaf.tensor.get(), leaf.slot);
  else if (leaves_.size() > kManyLeaves)
    leaf_index_.emplace(x.impl(), leaves_.back().slot);
  return x;
}

void Tape::watch(std::span<const Tensor> xs) {
  for (const Tensor& x : xs) watch(x);
}

void Tape::record(const OpDef& op, TensorList inputs, Inputs outputs, const Attrs& attrs) {
  for (int k = 0; k < op.outputs; ++k) new_slot(*outputs[static_cast<std::size_t>(k)].impl());
  const std::size_t first_version = versions_.size();
  for (const Tensor& x : inputs) versions_.push_back(x.impl()->storage->version);
  for (const Tensor& y : outputs) versions_.push_back(y.impl()->storage->version);
  Node& node = nodes_.emplace_back(&op, std::move(inputs), attrs, first_version);
  std::copy(outputs.begin(), outputs.end(), node.outputs.begin());
}

void Tape::check_unwritten(const Node& node) const {
  std::size_t v = node.first_version;
  const auto check = [&](const Tensor& t, const char* role, std::size_t index) {
    if (t.impl()->storage->version == versions_[v++]) return;
    const std::int64_t slot = slot_of(t);
    throw std::logic_error(
        "gradient: " + std::string(role) + " " + std::to_string(index) + " of the recorded op '" +
        node.op->name + "' (" + t.str() + (slot >= 0 ? ", slot %" + std::to_string(slot) : "") +
        ") was written in place (mutable_data) after the op was recorded, so its rule would "
        "read the new values; write into a copy, or compute it again after the write");
  };
  for (std::size_t j = 0; j < node.inputs.size(); ++j) check(node.inputs[j], "input", j);
  const auto n = static_cast<std::size_t>(node.op->outputs + node.op->residuals);
  for (std::size_t k = 0; k < n; ++k) check(node.outputs[k], "output", k);
}

std::vector<Tensor> Tape::gradient(const Tensor& y, std::span<const Tensor> wrt,
                                   const GradientOptions& options) {
  if (!y.defined()) throw std::invalid_argument("gradient: the output tensor is undefined");
  Tensor seed = options.seed;
  if (!seed.defined()) {
    if (y.numel() != 1)
      throw std::invalid_argument("gradient: the output has shape " + y.shape().str() +
                                  ", not a scalar; pass GradientOptions::seed (a cotangent of "
                                  "that shape) or reduce it first");
    seed = ones_like(y);
  }
  return gradient_from({&y, 1}, {&seed, 1}, wrt, options.create_graph, 0);
}

std::vector<Tensor> Tape::gradient_from(std::span<const Tensor> ys, std::span<const Tensor> seeds,
                                        std::span<const Tensor> wrt, bool create_graph,
                                        std::size_t first_node) {
  for (std::size_t i = 0; i < ys.size(); ++i) {
    if (!ys[i].defined()) throw std::invalid_argument("gradient: the output tensor is undefined");
    if (!(seeds[i].shape() == ys[i].shape()) || seeds[i].dtype() != ys[i].dtype() ||
        seeds[i].device() != ys[i].device())
      throw std::invalid_argument("gradient: the seed " + seeds[i].str() +
                                  " does not match the output " + ys[i].str() +
                                  " (shape, dtype and device)");
  }
  for (std::size_t i = 0; i < wrt.size(); ++i)
    if (!tracks(wrt[i]))
      throw std::invalid_argument("gradient: argument " + std::to_string(i) + " (" + wrt[i].str() +
                                  ") is not watched on this tape; call tape.watch() on it before "
                                  "computing with it");

  std::vector<Tensor> adjoint(static_cast<std::size_t>(num_slots_));
  std::vector<Tensor> result(wrt.size());
  bool reached_an_output = false;
  for (std::size_t i = 0; i < ys.size(); ++i) {
    const std::int64_t slot = slot_of(ys[i]);
    if (slot < 0) continue;
    Tensor& a = adjoint[static_cast<std::size_t>(slot)];
    a = a.defined() ? add(a, seeds[i]) : seeds[i];  // an output named twice gets both
    reached_an_output = true;
  }
  if (reached_an_output) {
    // Adjoints the caller asked for outlive the walk (a flag per slot: one heap call, where a
    // hash set made one per entry).
    std::vector<char> kept(static_cast<std::size_t>(num_slots_), 0);
    for (const Tensor& w : wrt) kept[static_cast<std::size_t>(slot_of(w))] = 1;

    const bool previous_no_grad = t_no_grad;
    t_no_grad = !create_graph;
    try {
      // Nodes appended by create_graph land past `end` and are not walked.
      const std::size_t end = nodes_.size();
      std::vector<Tensor> grads;
      std::vector<char> wanted;
      std::vector<std::int64_t> slots;  // the node's inputs' slots (-1: untracked)
      const auto adjoint_at = [&](std::int64_t slot) -> Tensor& {
        return adjoint[static_cast<std::size_t>(slot)];
      };
      // The outputs' adjoints, each moved out of the table unless the caller asked for it.
      std::array<Tensor, TensorList::kInline> g;
      for (std::size_t i = end; i-- > first_node;) {
        const std::size_t n_out = static_cast<std::size_t>(nodes_[i].op->outputs);
        bool reached = false;
        for (std::size_t k = 0; k < n_out; ++k) {
          const std::int64_t slot = slot_of(nodes_[i].outputs[k]);
          Tensor& a = adjoint_at(slot);
          reached |= a.defined();
          g[k] = kept[static_cast<std::size_t>(slot)] ? a : std::move(a);
        }
        if (!reached) continue;
        // With create_graph the rules record new nodes, which may reallocate nodes_: then the
        // node's handles are copied first. Without it nothing is recorded during the walk and
        // the node can be read in place (saving a copy of its handles per node).
        std::optional<Node> copied;
        if (create_graph) copied = nodes_[i];
        const Node& node = copied ? *copied : nodes_[i];
        const TensorList& inputs = node.inputs;
        const OpDef& op = *node.op;
        grads.assign(inputs.size(), Tensor());
        wanted.assign(inputs.size(), 0);
        slots.resize(inputs.size());
        // An input watched only after this node was recorded was a constant to it (watch
        // first): slots come from one counter, so its slot is past the node's own outputs'.
        const std::int64_t recorded_at = node.outputs[0].impl()->slot;
        bool any = false;
        for (std::size_t j = 0; j < inputs.size(); ++j) {
          slots[j] = slot_of(inputs[j]);
          if (slots[j] >= recorded_at) slots[j] = -1;
          any |= (wanted[j] = slots[j] >= 0);
        }
        if (!any) {
          for (std::size_t k = 0; k < n_out; ++k) g[k] = Tensor();
          continue;
        }
        check_unwritten(node);
        Grads sink{grads, wanted};
        const Inputs outputs(node.outputs.data(),
                             static_cast<std::size_t>(op.outputs + op.residuals));
        op.vjp(Saved{op, inputs, outputs, node.attrs}, Inputs(g.data(), n_out), sink);
        for (std::size_t k = 0; k < n_out; ++k) g[k] = Tensor();
        for (std::size_t j = 0; j < inputs.size(); ++j) {
          if (!wanted[j] || !grads[j].defined()) continue;
          if (!(grads[j].shape() == inputs[j].shape()))
            throw std::logic_error(std::string("internal error: the VJP rule of '") + op.name +
                                   "' returned a cotangent of shape " + grads[j].shape().str() +
                                   " for an input of shape " + inputs[j].shape().str());
          Tensor& acc = adjoint_at(slots[j]);
          acc = acc.defined() ? add(acc, grads[j]) : grads[j];
        }
      }
    } catch (...) {
      t_no_grad = previous_no_grad;
      throw;
    }
    t_no_grad = previous_no_grad;
  }
  for (std::size_t i = 0; i < wrt.size(); ++i) {
    const Tensor& a = adjoint[static_cast<std::size_t>(slot_of(wrt[i]))];
    result[i] = a.defined() ? a : zeros_like(wrt[i]);
  }
  return result;
}

NoGrad::NoGrad() : previous_(t_no_grad) { t_no_grad = true; }
NoGrad::~NoGrad() { t_no_grad = previous_; }

namespace detail {
RecordingScope::RecordingScope(bool on) : previous(!t_no_grad) { t_no_grad = !on; }
RecordingScope::~RecordingScope() { t_no_grad = !previous; }
ActiveTapeAside::ActiveTapeAside() : saved(t_active) {
  t_active = nullptr;
}
ActiveTapeAside::~ActiveTapeAside() {
  t_active = saved;
}
// Tangents propagate only while a jvp() runs. The intermediates of a finished jvp() keep their
// tangent fields (their handles may live on, as the saved inputs of tape nodes); without this
// check every later op on them, the backward walk of a loss that contains a JVP above all,
// would go on computing tangents nobody reads (one extra GEMM per linear layer's VJP).
int jvp_depth() {
  return t_jvp_depth;
}
int tangent_depth() {
  return t_tangent_depth;
}
bool tangents_enabled() {
  return t_tangent_depth > 0;
}
TangentDepth::TangentDepth(int depth) : previous(t_tangent_depth) {
  t_tangent_depth = std::min(depth, previous);
}
TangentDepth::~TangentDepth() {
  t_tangent_depth = previous;
}
ForwardModeScope::ForwardModeScope() : previous_tangent_depth(t_tangent_depth) {
  if (t_jvp_depth == TensorImpl::kMaxJvpDepth)
    throw std::logic_error("jvp: nested " + std::to_string(t_jvp_depth + 1) +
                           " deep; flowtape's forward mode nests up to " +
                           std::to_string(TensorImpl::kMaxJvpDepth) + " jvp() calls");
  // A number no jvp() call had, on any thread: the tangents this call sets carry it.
  static std::atomic<std::uint64_t> calls{0};
  depth = ++t_jvp_depth;
  previous_generation = jvp_generations()[depth - 1];
  jvp_generations()[depth - 1] = ++calls;
  t_tangent_depth = depth;
}
ForwardModeScope::~ForwardModeScope() {
  jvp_generations()[depth - 1] = previous_generation;
  --t_jvp_depth;
  t_tangent_depth = previous_tangent_depth;
}
}  // namespace detail

// Declared with the handle (runtime/tensor.hpp); they read the forward-mode state kept here.
bool Tensor::has_tangent() const {
  return tangent().defined();
}
Tensor Tensor::tangent() const {
  const int depth = detail::tangent_depth();
  return impl() && depth > 0 ? impl()->tangent(depth - 1) : Tensor();
}

}  // namespace flowtape
