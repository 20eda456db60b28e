// SPDX-License-Identifier: MIT
// A training run's folder, held for the run: `flowtape train --out DIR` takes DIR's lock file
// (so a second process training into DIR is refused instead of mixing two runs' files),
// removes the temporary files that killed runs left, and refuses to train over an earlier
// run unless told to continue it (--resume) or to replace it (--overwrite).
#pragma once

#include <string>

namespace flowtape::app {

class RunFolder {
 public:
  enum class Existing { refuse, resume, overwrite };

  // Creates `path` if needed and locks it for this object's lifetime. Throws
  // std::runtime_error when another process holds it (naming its pid), and, with
  // Existing::refuse, when it already holds a run (the message says how to go on).
  // Existing::overwrite removes the earlier run's files (and only those: other files stay).
  RunFolder(std::string path, Existing existing);
  ~RunFolder();
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Whether the folder holds a run's checkpoint or config (what refuse protects).
  static bool holds_run(const std::string& path);

 private:
  std::string path_;
  int lock_fd_ = -1;
};

}  // namespace flowtape::app
