// SPDX-License-Identifier: MIT
// A tape you can look at: Tape::dump() lists the recorded nodes as text, Tape::to_dot() draws
// them as a Graphviz graph, Tape::ops() lists their ops. Both only read the tape; neither is part
// of differentiation.
//
// A recorded tensor is named by its adjoint slot, %N. A node's inputs are either slots (a
// watched leaf or an earlier node's output) or constants: tensors the tape does not track,
// shown with their shape and dtype, since they receive no gradient.
#include <sstream>
#include <string>

#include "flowtape/autodiff/tape.hpp"
#include "flowtape/runtime/tensor.hpp"

namespace flowtape {

namespace {

std::string describe(const Tensor& t) {
  return t.shape().str() + " " + dtype_name(t.dtype());
}

}  // namespace

std::string Tape::dump() const {
  std::ostringstream os;
  os << "tape: " << nodes_.size() << " node" << (nodes_.size() == 1 ? "" : "s") << ", "
     << num_slots_ << " slot" << (num_slots_ == 1 ? "" : "s") << "\n";
  for (const Node& node : nodes_) {
    os << "  ";
    for (int k = 0; k < node.op->outputs; ++k)
      os << (k ? ", %" : "%") << slot_of(node.outputs[static_cast<std::size_t>(k)]);
    os << " = " << node.op->name << "(";
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      const Tensor& in = node.inputs[i];
      if (i > 0) os << ", ";
      if (!in.defined())
        os << "-";
      else if (tracks(in) && slot_of(in) < slot_of(node.outputs[0]))
        os << "%" << slot_of(in);
      else  // (an input watched after the node was recorded was a constant to it)
        os << "const " << describe(in);
    }
    os << ") -> ";
    for (int k = 0; k < node.op->outputs; ++k)
      os << (k ? ", " : "") << describe(node.outputs[static_cast<std::size_t>(k)]);
    os << "\n";
  }
  return os.str();
}

std::vector<const OpDef*> Tape::ops() const {
  std::vector<const OpDef*> result;
  result.reserve(nodes_.size());
  for (const Node& node : nodes_) result.push_back(node.op);
  return result;
}

std::string Tape::to_dot() const {
  std::ostringstream os;
  os << "digraph tape {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n";
  // Slots that no node produces are the watched leaves.
  std::vector<bool> produced(static_cast<std::size_t>(num_slots_), false);
  for (const Node& node : nodes_)
    for (int k = 0; k < node.op->outputs; ++k)
      produced[static_cast<std::size_t>(slot_of(node.outputs[static_cast<std::size_t>(k)]))] = true;
  for (std::int64_t s = 0; s < num_slots_; ++s)
    if (!produced[static_cast<std::size_t>(s)])
      os << "  s" << s << " [shape=box, style=filled, fillcolor=\"#dde8f5\", label=\"%" << s
         << " watched\"];\n";
  int constants = 0;
  for (std::size_t n = 0; n < nodes_.size(); ++n) {
    const Node& node = nodes_[n];
    // A node of several outputs is drawn as its first output, the others linked to it.
    const std::int64_t out = slot_of(node.outputs[0]);
    os << "  s" << out << " [shape=ellipse, label=\"%" << out << " " << node.op->name << "\\n"
       << describe(node.outputs[0]) << "\"];\n";
    for (const Tensor& in : node.inputs) {
      if (!in.defined()) continue;
      if (tracks(in) && slot_of(in) < out) {  // as the backward walk: see dump()
        os << "  s" << slot_of(in) << " -> s" << out << ";\n";
      } else {
        os << "  c" << constants << " [shape=plaintext, fontcolor=gray40, label=\"const "
           << describe(in) << "\"];\n  c" << constants << " -> s" << out << " [color=gray60];\n";
        ++constants;
      }
    }
    for (int k = 1; k < node.op->outputs; ++k) {
      const Tensor& more = node.outputs[static_cast<std::size_t>(k)];
      const std::int64_t slot = slot_of(more);
      os << "  s" << slot << " [shape=ellipse, label=\"%" << slot << " " << node.op->name
         << " output " << k << "\\n"
         << describe(more) << "\"];\n  s" << out << " -> s" << slot
         << " [style=dashed, label=\"same node\"];\n";
    }
  }
  os << "}\n";
  return os.str();
}

}  // namespace flowtape
