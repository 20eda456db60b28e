// SPDX-License-Identifier: MIT
// Evaluation of a trained velocity field: generate samples with the configured solver, score
// them against fresh data (MMD, sliced W2, energy distance, and the ring metrics on the rings
// data), estimate the NLL of held-out data, and write a run folder's outputs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flowtape/flows/datasets.hpp"
#include "flowtape/flows/sample.hpp"
#include "flowtape/flows/velocity.hpp"
#include "flowtape/train/spec.hpp"
#include "flowtape/train/trainer.hpp"

namespace flowtape::app {

solvers::IntegrateOptions solver_options(const train::TrainSpec& c);

// n samples from N(0, I) pushed to t = 1 (no tape recording). With trajectory_points > 1 the
// result also holds the trajectory.
flows::SampleResult generate(const flows::VelocityField& v, std::int64_t n, std::int64_t dim,
                             const train::TrainSpec& c, Generator& gen, int trajectory_points = 0);

// Sample-quality metrics of `samples` against `reference` data from the same dataset.
nlohmann::json sample_metrics(const flows::Dataset& ds, const Tensor& samples,
                              const Tensor& reference, Generator& gen);

// NLL (nats and bits/dim) of held-out data by the exact-divergence likelihood ODE, plus the
// dataset's true NLL where it has a closed-form density.
nlohmann::json nll_metrics(const flows::VelocityField& v, const flows::Dataset& ds,
                           const train::TrainSpec& c, Generator& gen);

// Full evaluation into a run folder: samples.csv, metrics.json (merged with `extra`), and the
// plots (2-D: samples.png, density.png, trajectories.png; 1-D: histogram.png). Returns the
// metrics it wrote.
nlohmann::json evaluate_to_folder(const flows::VelocityField& v, const flows::Dataset& ds,
                                  const train::TrainSpec& c, const std::string& folder,
                                  const nlohmann::json& extra = {});

// The same for a trained run, whatever its data: a data file's runs are compared with their
// held-out rows (or, without a holdout, their training rows) in data space (standardisation
// undone), and conditional runs draw each sample with the condition of a reference point
// (guided by spec().guidance), so the class mix matches; their NLL is conditional.
nlohmann::json evaluate_to_folder(const train::Trainer& trainer, const std::string& folder,
                                  const nlohmann::json& extra = {});

// Helpers that write atomically (nn::write_file_atomic: temp file, fsync, rename; links and
// devices written through) and throw naming the path on failure. The path "-" is stdout.
void write_text_file(const std::string& path, const std::string& text);
void write_csv(const std::string& path, const Tensor& points);
// Points with their class labels as a last column, "class" (labels: i64 [n]).
void write_csv(const std::string& path, const Tensor& points, const Tensor& labels);

}  // namespace flowtape::app
