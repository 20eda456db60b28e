// SPDX-License-Identifier: MIT
// atomic_file.hpp: temp + fsync + rename + fsync of the folder, with links and devices
// respected.
#include "flowtape/nn/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace flowtape::nn {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what, int err) {
  throw FileWriteError("cannot write '" + path + "': " + what +
                       (err ? std::string(": ") + std::strerror(err) : std::string()));
}

// Writes all of `bytes` to fd; returns 0, or the errno of the failure with `done` the bytes
// written before it.
int write_all(int fd, std::string_view bytes, std::size_t& done) {
  done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<std::size_t>(w);
  }
  return 0;
}

std::string partial(std::size_t done, std::size_t total) {
  return "write failed after " + std::to_string(done) + " of " + std::to_string(total) + " bytes";
}

// Where a chain of symbolic links ends (the final target need not exist yet).
std::string follow_links(const std::string& requested) {
  std::filesystem::path p = requested;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p.string();
    std::error_code ec;
    const std::filesystem::path target = std::filesystem::read_symlink(p, ec);
    if (ec) fail(requested, "cannot read the symbolic link", ec.value());
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  fail(requested, "too many levels of symbolic links", ELOOP);
}

// PATH.tmp.PID.N. Where PATH's last component is too long to take the suffix within its file
// system's limit on a name (pathconf's NAME_MAX for the folder: 255 bytes on most, 143 on
// eCryptfs), its end is cut to make room; such a temporary, left by a killed writer, is not
// recognised as stale.
std::string temporary_name(const std::string& path, const std::string& folder, std::uint64_t n) {
  const std::string suffix = ".tmp." + std::to_string(::getpid()) + "." + std::to_string(n);
  const auto slash = path.find_last_of('/');
  const std::size_t start = slash == std::string::npos ? 0 : slash + 1;
  const long limit = ::pathconf(folder.c_str(), _PC_NAME_MAX);
  const std::size_t name_max = limit > 0 ? static_cast<std::size_t>(limit) : 255;
  const std::size_t name = path.size() - start;
  if (name + suffix.size() <= name_max || suffix.size() >= name_max) return path + suffix;
  return path.substr(0, start + (name_max - suffix.size())) + suffix;
}

std::string folder_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

}  // namespace

void write_file_atomic(const std::string& requested, std::string_view bytes) {
  // Through a link: its final target (which may not exist yet) gets the new file.
  const std::string path = follow_links(requested);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) fail(requested, "it is a directory", 0);
    if (!S_ISREG(st.st_mode)) {  // a device, pipe or socket: write into it as it is
      const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) fail(requested, "cannot open", errno);
      std::size_t done = 0;
      const int err = write_all(fd, bytes, done);
      ::close(fd);
      if (err) fail(requested, partial(done, bytes.size()), err);
      return;
    }
  }
  // A replaced file keeps its permissions. Its temporary starts private (0600) and gets them
  // just before the rename, so the new contents of a private file are never readable by
  // others; a new file gets the usual 0666 less the umask.
  const bool exists = ::stat(path.c_str(), &st) == 0;
  // PATH.tmp.PID.N, N counting this process's writes: two threads writing one path each get
  // their own temporary (the last rename wins, whole). O_EXCL | O_NOFOLLOW: never write through
  // something planted at the name; a name taken (a leftover of a reused pid) is skipped, never
  // removed, since it may be another writer's.
  static std::atomic<std::uint64_t> writes{0};
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  std::string tmp;
  int fd = -1;
  for (int tries = 0; tries < 100 && fd < 0; ++tries) {
    tmp = temporary_name(path, folder_of(path), writes++);
    fd = ::open(tmp.c_str(), flags, exists ? 0600 : 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) fail(requested, "cannot create '" + tmp + "'", errno);
  auto abandon = [&](const std::string& what, int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    fail(requested, what, err);
  };
  std::size_t done = 0;
  if (const int err = write_all(fd, bytes, done)) abandon(partial(done, bytes.size()), err);
  if (exists) {
    const mode_t mode = st.st_mode & 07777;
    // Where the file system cannot take the mode (some mounts fix it), a temporary that
    // already has it will do.
    struct stat now {};
    if (::fchmod(fd, mode) != 0 && !(::fstat(fd, &now) == 0 && (now.st_mode & 07777) == mode))
      abandon("cannot give the new file the old one's permissions", errno);
  }
  if (::fsync(fd) != 0) abandon("fsync failed", errno);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail(requested, "close failed", err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail(requested, "rename failed", err);
  }
  // Make the rename itself durable. A folder this process cannot open (write and search
  // permission only) or one whose file system does not fsync folders is left as it is; an I/O
  // error is reported, since the rename may then not survive a crash.
  const int dfd = ::open(folder_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int err = ::fsync(dfd) == 0 ? 0 : errno;
    ::close(dfd);
    if (err && err != EINVAL && err != ENOTSUP && err != EOPNOTSUPP && err != EROFS)
      fail(requested, "the file was replaced, but fsync of its folder failed", err);
  }
}

int remove_stale_temporaries(const std::string& folder,
                             const std::function<bool(const std::string& name)>& ours) {
  std::error_code ec;
  int removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    const std::string name = entry.path().filename().string();
    const auto at = name.rfind(".tmp");
    if (at == std::string::npos || at == 0 || !ours(name.substr(0, at))) continue;
    // PATH.tmp.PID (from before temporaries counted their writer's writes) or PATH.tmp.PID.N:
    // stale when that pid no longer runs. A bare PATH.tmp is left alone: it may be the user's.
    const std::string rest = name.substr(at + 4);
    bool stale = false;
    const std::string pid_text = rest.substr(rest.empty() ? 0 : 1, rest.find('.', 1) - 1);
    const std::string count = rest.find('.', 1) == std::string::npos
                                  ? std::string("0")
                                  : rest.substr(rest.find('.', 1) + 1);
    const auto digits = [](const std::string& t) {
      return !t.empty() && t.size() < 20 && t.find_first_not_of("0123456789") == std::string::npos;
    };
    if (rest.size() > 1 && rest[0] == '.' && digits(pid_text) && pid_text.size() < 12 &&
        digits(count)) {
      const long pid = std::stol(pid_text);
      stale = pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
    }
    if (stale && std::filesystem::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace flowtape::nn
