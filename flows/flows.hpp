// flowtape's flow-matching pieces in one include.
#pragma once

#include "flows/closed_form.hpp"
#include "flows/coupling.hpp"
#include "flows/datasets.hpp"
#include "flows/divergence.hpp"
#include "flows/likelihood.hpp"
#include "flows/losses.hpp"
#include "flows/metrics.hpp"
#include "flows/path.hpp"
#include "flows/sample.hpp"
#include "flows/velocity.hpp"
