// SPDX-License-Identifier: MIT
// flowtape's flow-matching pieces in one include.
#pragma once

#include "flowtape/flows/closed_form.hpp"
#include "flowtape/flows/condition.hpp"
#include "flowtape/flows/coupling.hpp"
#include "flowtape/flows/csv.hpp"
#include "flowtape/flows/datasets.hpp"
#include "flowtape/flows/divergence.hpp"
#include "flowtape/flows/likelihood.hpp"
#include "flowtape/flows/losses.hpp"
#include "flowtape/flows/metrics.hpp"
#include "flowtape/flows/npy.hpp"
#include "flowtape/flows/path.hpp"
#include "flowtape/flows/sample.hpp"
#include "flowtape/flows/velocity.hpp"
