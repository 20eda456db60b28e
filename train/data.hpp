// SPDX-License-Identifier: MIT
// The user's own data for a run (TrainSpec::data): points read from CSV or NumPy .npy (by the
// file's extension), each with an optional condition - a label column of the same file
// (label_column), or a second file of labels (labels) or of context vectors (context) - then
// a held-out split for the metrics (holdout, drawn from the seed) and an optional per-column
// standardisation (standardize) that the model trains in and that sampling undoes. Every read
// is strict (csv.hpp, npy.hpp); a non-finite value is refused with its place.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "flowtape/flows/datasets.hpp"
#include "flowtape/train/spec.hpp"

namespace flowtape::train {

// x -> (x - mean) / scale per column, and back. Empty: the identity.
struct Standardization {
  std::vector<double> mean, scale;
  bool empty() const { return mean.empty(); }
  Tensor apply(const Tensor& x) const;
  Tensor undo(const Tensor& z) const;
  // log |det| of undo's Jacobian: sum of log scale. A density in data space is the standardised
  // density minus this (in log space).
  double log_scale() const;
};

struct LoadedData {
  std::shared_ptr<flows::TensorDataset> train;  // standardised when asked
  Tensor heldout_x, heldout_c;                  // in data space; empty without a holdout
  Standardization standardization;
  std::string fingerprint;  // of every value read, so a resumed run knows its data is the same
};

// Reads and splits spec.data. Throws std::invalid_argument (a bad setting) or
// flows::CsvError / flows::NpyError (a bad file), each naming the file.
LoadedData load_data(const TrainSpec& spec);

// A 2-D table from CSV or .npy (by extension) in `dtype`; a 1-D .npy is one column.
Tensor read_table(const std::string& path, DType dtype = DType::f64);

// A hex digest of the tensors' values (undefined ones skipped): what a checkpoint records of
// its data and of its fixed training set, so that a resumed run can tell they are the same.
std::string fingerprint_of(const std::vector<const Tensor*>& tensors);

}  // namespace flowtape::train
