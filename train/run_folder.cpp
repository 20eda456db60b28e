// SPDX-License-Identifier: MIT
// RunFolder (run_folder.hpp): an flock on DIR/.lock, held while the object lives. The lock
// dies with its process, so a killed run never leaves a folder locked.
#include "flowtape/train/run_folder.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flowtape/nn/atomic_file.hpp"
#include "flowtape/train/trainer.hpp"

namespace flowtape::train {
namespace {

namespace fs = std::filesystem;

// The files a training run writes into its folder (the CLI's, evaluate_to_folder's), and the
// part of them an evaluation writes.
const char* const kRunFiles[] = {"model.safetensors", "config.json",      "metrics.json",
                                 "metrics.csv",       "samples.csv",      "samples.png",
                                 "density.png",       "trajectories.png", "histogram.png"};
const char* const kEvaluationFiles[] = {"metrics.json", "samples.csv",      "samples.png",
                                        "density.png",  "trajectories.png", "histogram.png"};

std::span<const char* const> files_written_by(RunFolder::Writer writer) {
  if (writer == RunFolder::Writer::evaluation) return kEvaluationFiles;
  return kRunFiles;
}

std::string read_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? "unknown" : pid;
}

// N of a name step-N.safetensors (N digits only), else -1: a user's step-3-best.safetensors
// is not a numbered checkpoint.
std::int64_t checkpoint_number(const std::string& name) {
  constexpr std::string_view prefix = "step-", suffix = ".safetensors";
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  const std::string digits =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoll(digits);
}

// The numbered checkpoints in dir, by step.
std::vector<std::pair<std::int64_t, fs::path>> numbered_checkpoints(const fs::path& dir) {
  std::vector<std::pair<std::int64_t, fs::path>> numbered;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return numbered;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::int64_t n = checkpoint_number(entry.path().filename().string());
    if (n >= 0) numbered.emplace_back(n, entry.path());
  }
  std::sort(numbered.begin(), numbered.end());
  return numbered;
}

}  // namespace

std::vector<std::string> RunFolder::files_of(const std::string& path, Writer writer) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const char* name : files_written_by(writer))
    if (fs::exists(path + "/" + name, ec)) found.emplace_back(name);
  if (writer == Writer::training)
    for (const auto& [step, file] : numbered_checkpoints(path + "/checkpoints"))
      found.push_back("checkpoints/" + file.filename().string());
  return found;
}

RunFolder::RunFolder(std::string path, Existing existing, Writer writer)
    : path_(std::move(path)), existing_(existing), writer_(writer) {
  std::error_code ec;
  if (existing == Existing::resume && !fs::is_directory(path_, ec))
    throw std::runtime_error("--resume: there is no run folder " + path_);
  const bool made_folder = !fs::exists(path_, ec);
  fs::create_directories(path_, ec);
  if (ec) throw std::runtime_error("cannot create the run folder " + path_ + ": " + ec.message());
  const std::string lock = path_ + "/.lock";
  const bool made_lock = !fs::exists(lock, ec);
  // Leaves the folder as it was found: the lock file and the folder go if this made them.
  const auto refuse = [&](const std::string& why) {
    ::close(lock_fd_);
    if (made_lock) fs::remove(lock, ec);
    if (made_folder) fs::remove(path_, ec);  // (only while empty)
    throw std::runtime_error(why);
  };
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw std::runtime_error("cannot open " + lock + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    refuse(path_ + " is in use by another flowtape process (pid " + read_pid(lock_fd_) +
           "); wait for it, or use another folder");
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) == 0 && ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    // The pid is only for the message a second process prints; the lock stands without it.
  }
  if (existing == Existing::refuse) {
    const std::vector<std::string> found = files_of(path_, writer);
    if (!found.empty()) {
      std::string names;
      for (std::size_t i = 0; i < found.size() && i < 3; ++i) names += (i ? ", " : "") + found[i];
      if (found.size() > 3) names += " and " + std::to_string(found.size() - 3) + " more";
      refuse(path_ + " already holds " + names +
             (writer == Writer::training
                  ? "; continue that run with --resume, replace those files with --overwrite, "
                    "or choose another --out"
                  : "; replace those files with --overwrite, or choose another --out"));
    }
  }
  const std::span<const char* const> ours = files_written_by(writer);
  nn::remove_stale_temporaries(path_, [ours](const std::string& name) {
    return std::find_if(ours.begin(), ours.end(), [&](const char* f) { return name == f; }) !=
           ours.end();
  });
  if (writer == Writer::training && fs::is_directory(file("checkpoints"), ec))
    nn::remove_stale_temporaries(
        file("checkpoints"), [](const std::string& name) { return checkpoint_number(name) >= 0; });
}

void RunFolder::clear_previous_run() {
  if (existing_ != Existing::overwrite) return;
  std::error_code ec;
  for (const char* name : files_written_by(writer_)) fs::remove(file(name), ec);
  if (writer_ != Writer::training) return;
  for (const auto& [step, path] : numbered_checkpoints(file("checkpoints"))) fs::remove(path, ec);
  fs::remove(file("checkpoints"), ec);  // only if nothing else is in it
}

RunFolder::~RunFolder() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void RunFolder::save_checkpoint(const Trainer& trainer, std::int64_t every,
                                std::int64_t keep) const {
  if (every > 0 && keep < 1)
    throw std::invalid_argument("save_checkpoint: keep must be >= 1, got " + std::to_string(keep));
  const std::int64_t step = trainer.steps_done();
  if (every > 0 && step > 0 && step % every == 0) {
    const fs::path dir = file("checkpoints");
    fs::create_directories(dir);
    trainer.save((dir / ("step-" + std::to_string(step) + ".safetensors")).string());
    const std::vector<std::pair<std::int64_t, fs::path>> numbered = numbered_checkpoints(dir);
    for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < numbered.size(); ++i)
      fs::remove(numbered[i].second);
  }
  trainer.save(checkpoint());
}

}  // namespace flowtape::train
