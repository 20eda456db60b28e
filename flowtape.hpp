// SPDX-License-Identifier: MIT
// flowtape in one include: <flowtape/flowtape.hpp>. Tensors, ops, the tape and the verbs
// (autodiff), layers and optimizers (nn), ODE solvers (solvers), flow matching (flows) and the
// trainer (train). Each layer also has its own header: <flowtape/autodiff/autodiff.hpp>,
// <flowtape/nn/nn.hpp>, <flowtape/solvers/solvers.hpp>, <flowtape/flows/flows.hpp>,
// <flowtape/train/train.hpp>; link flowtape::flowtape.
#pragma once

#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/config.hpp"
#include "flowtape/flows/flows.hpp"
#include "flowtape/nn/nn.hpp"
#include "flowtape/solvers/solvers.hpp"
#include "flowtape/train/train.hpp"
