// SPDX-License-Identifier: MIT
// flowtape's autodiff layer in one include: tensors, ops, the tape and the verbs.
#pragma once

#include "flowtape/autodiff/ops.hpp"
#include "flowtape/autodiff/tape.hpp"
#include "flowtape/autodiff/verbs.hpp"
#include "flowtape/kernels/cpu/parallel.hpp"  // flowtape::set_num_threads
#include "flowtape/runtime/format.hpp"
#include "flowtape/runtime/random.hpp"
#include "flowtape/runtime/tensor.hpp"
