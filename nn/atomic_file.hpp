// SPDX-License-Identifier: MIT
// Writing a file so that a reader never sees half of it and a crash never loses the old one:
// the bytes go to a temporary file beside it (PATH.tmp.PID.N), which is fsynced and renamed over
// PATH, and the folder is fsynced so the rename survives a power cut. Replacing a file, the
// temporary is private (0600) until it takes that file's permissions, just before the rename;
// a new file is created 0666 less the umask, as any file is. A failed fsync of the folder is
// reported after the rename (the new file is in place, its rename perhaps not yet durable). Outputs
// that are not regular files are respected: a symbolic link is written through (its target is
// replaced, the link stays), and a device or pipe (/dev/stdout, a FIFO) is written directly, never
// replaced by a file. A directory is refused.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace flowtape::nn {

class FileWriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws FileWriteError naming `path` and the reason; the temporary file is removed. Threads
// may write one path at once: each writes its own temporary, and the file is one of theirs,
// whole.
void write_file_atomic(const std::string& path, std::string_view bytes);

// The temporary files write_file_atomic leaves when its process is killed mid-write, in
// `folder` (not below it): NAME.tmp.PID.N (and NAME.tmp.PID) whose PID is no longer running,
// for the NAMEs `ours` accepts (a caller names its own files, so a user's *.tmp beside them,
// or a bare NAME.tmp, is never touched). Removes them and returns how many it removed.
int remove_stale_temporaries(const std::string& folder,
                             const std::function<bool(const std::string& name)>& ours);

}  // namespace flowtape::nn
