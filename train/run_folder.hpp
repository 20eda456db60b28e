// SPDX-License-Identifier: MIT
// A training run's folder, held for the run: it takes the folder's lock file (so a second
// process training into it is refused instead of mixing two runs' files), removes the
// temporary files that killed runs left, refuses to write over files a run writes unless told
// to continue the run (resume) or to replace them (overwrite), and writes the run's
// checkpoints: model.safetensors (always the latest) and checkpoints/step-N.safetensors (the
// newest few). An evaluation into a folder (`flowtape eval --out`) holds it the same way for
// the files it writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flowtape::train {

class Trainer;

class RunFolder {
 public:
  enum class Existing { refuse, resume, overwrite };
  // Whose files: a training run's (checkpoints, config, log, samples, metrics, plots) or an
  // evaluation's (samples, metrics, plots).
  enum class Writer { training, evaluation };

  // Creates `path` if needed and locks it for this object's lifetime. Throws
  // std::runtime_error when another process holds it (naming its pid); with Existing::refuse
  // when it already holds a file the writer writes (naming them; the message says how to go
  // on); with Existing::resume when the folder does not exist. A refused folder is left as it
  // was (a folder or lock file made for it is removed). Then removes the writer's own
  // temporary files that killed writers left (only names it writes; a user's other files are
  // never touched).
  RunFolder(std::string path, Existing existing, Writer writer = Writer::training);
  ~RunFolder();
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Existing::overwrite: removes the files the writer writes that an earlier run left (those
  // names only, and in checkpoints/ only step-N.safetensors). Called once the new run is known
  // to start (its config checked, its model built), just before its first write.
  void clear_previous_run();
  // The latest checkpoint, model.safetensors.
  std::string checkpoint() const { return file("model.safetensors"); }
  // Saves the trainer to checkpoint(), and when its step is a multiple of `every` (> 0) also
  // to checkpoints/step-N.safetensors, keeping the newest `keep` of those (other files in
  // checkpoints/ are never removed). A TrainingError (non-finite weights) leaves every file
  // as it was.
  void save_checkpoint(const Trainer& trainer, std::int64_t every, std::int64_t keep) const;
  // The files of `writer` that the folder holds (names relative to it), in a fixed order.
  static std::vector<std::string> files_of(const std::string& path,
                                           Writer writer = Writer::training);
  // Whether the folder holds any file a training run writes (what refuse protects).
  static bool holds_run(const std::string& path) { return !files_of(path).empty(); }

 private:
  std::string path_;
  Existing existing_;
  Writer writer_;
  int lock_fd_ = -1;
};

}  // namespace flowtape::train
