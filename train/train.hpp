// SPDX-License-Identifier: MIT
// flowtape's trainer in one include: the typed TrainSpec, the Trainer and its callbacks, run
// folders, the per-step metrics log and the stop-on-signal flag.
#pragma once

#include "flowtape/train/data.hpp"
#include "flowtape/train/metrics_log.hpp"
#include "flowtape/train/run_folder.hpp"
#include "flowtape/train/spec.hpp"
#include "flowtape/train/stop_signal.hpp"
#include "flowtape/train/trainer.hpp"
