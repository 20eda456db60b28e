// SPDX-License-Identifier: MIT
// all_ops(): the op list as a table of the primitives' definitions.
#include "flowtape/autodiff/op_list.hpp"

namespace flowtape {

std::span<const OpDef* const> all_ops() {
#define FLOWTAPE_ADDRESS_OF(name, ...) &op_##name,
  static const OpDef* const table[] = {FLOWTAPE_PRIMITIVES(FLOWTAPE_ADDRESS_OF)};
#undef FLOWTAPE_ADDRESS_OF
  return table;
}

}  // namespace flowtape
