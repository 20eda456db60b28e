// flowtape's autodiff layer in one include: tensors, ops, the tape and the verbs.
#pragma once

#include "autodiff/ops.hpp"
#include "autodiff/random.hpp"
#include "autodiff/tape.hpp"
#include "autodiff/tensor.hpp"
#include "autodiff/verbs.hpp"
#include "kernels/cpu/parallel.hpp"  // flowtape::set_num_threads
