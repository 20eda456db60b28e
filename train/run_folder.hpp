// SPDX-License-Identifier: MIT
// A training run's folder, held for the run: it takes the folder's lock file (so a second
// process training into it is refused instead of mixing two runs' files), removes the
// temporary files that killed runs left, refuses to train over an earlier run unless told to
// continue it (resume) or to replace it (overwrite), and writes the run's checkpoints:
// model.safetensors (always the latest) and checkpoints/step-N.safetensors (the newest few).
#pragma once

#include <cstdint>
#include <string>

namespace flowtape::train {

class Trainer;

class RunFolder {
 public:
  enum class Existing { refuse, resume, overwrite };

  // Creates `path` if needed and locks it for this object's lifetime. Throws
  // std::runtime_error when another process holds it (naming its pid), and, with
  // Existing::refuse, when it already holds a run (the message says how to go on). Then
  // removes the run's own temporary files that killed writers left (only names a run writes;
  // a user's other files are never touched).
  RunFolder(std::string path, Existing existing);
  ~RunFolder();
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Existing::overwrite: removes the earlier run's files (only those). Called once the new
  // run is known to start (its config checked, its model built), just before its first write.
  void clear_previous_run();
  // The latest checkpoint, model.safetensors.
  std::string checkpoint() const { return file("model.safetensors"); }
  // Saves the trainer to checkpoint(), and when its step is a multiple of `every` (> 0) also
  // to checkpoints/step-N.safetensors, keeping the newest `keep` of those. A TrainingError
  // (non-finite weights) leaves every file as it was.
  void save_checkpoint(const Trainer& trainer, std::int64_t every, std::int64_t keep) const;
  // Whether the folder holds a run's checkpoint or config (what refuse protects).
  static bool holds_run(const std::string& path);

 private:
  std::string path_;
  Existing existing_;
  int lock_fd_ = -1;
};

}  // namespace flowtape::train
