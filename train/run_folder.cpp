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
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "flowtape/nn/atomic_file.hpp"
#include "flowtape/train/trainer.hpp"

namespace flowtape::train {
namespace {

// The files a run writes into its folder (the CLI's, evaluate_to_folder's).
const char* const kRunFiles[] = {"model.safetensors", "config.json",      "metrics.json",
                                 "metrics.csv",       "samples.csv",      "samples.png",
                                 "density.png",       "trajectories.png", "histogram.png"};

std::string read_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? "unknown" : pid;
}

bool is_run_file(const std::string& name) {
  for (const char* f : kRunFiles)
    if (name == f) return true;
  return false;
}
bool is_numbered_checkpoint(const std::string& name) {
  return name.rfind("step-", 0) == 0 && name.size() > 17 &&
         name.compare(name.size() - 12, 12, ".safetensors") == 0;
}

}  // namespace

bool RunFolder::holds_run(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path + "/model.safetensors", ec) ||
         std::filesystem::exists(path + "/config.json", ec);
}

RunFolder::RunFolder(std::string path, Existing existing)
    : path_(std::move(path)), existing_(existing) {
  std::error_code ec;
  std::filesystem::create_directories(path_, ec);
  if (ec) throw std::runtime_error("cannot create the run folder " + path_ + ": " + ec.message());
  const std::string lock = path_ + "/.lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw std::runtime_error("cannot open " + lock + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const std::string holder = read_pid(lock_fd_);
    ::close(lock_fd_);
    throw std::runtime_error(path_ + " is in use by another flowtape process (pid " + holder +
                             "); wait for it, or train into another folder");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) == 0 && ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    // The pid is only for the message a second process prints; the lock stands without it.
  }
  if (existing == Existing::refuse && holds_run(path_)) {
    ::close(lock_fd_);
    throw std::runtime_error(path_ +
                             " already holds a run; continue it with --resume, replace it "
                             "with --overwrite, or choose another --out");
  }
  nn::remove_stale_temporaries(path_, is_run_file);
  if (std::filesystem::is_directory(file("checkpoints"), ec))
    nn::remove_stale_temporaries(file("checkpoints"), is_numbered_checkpoint);
}

void RunFolder::clear_previous_run() {
  if (existing_ != Existing::overwrite) return;
  std::error_code ec;
  for (const char* name : kRunFiles) std::filesystem::remove(file(name), ec);
  std::filesystem::remove_all(file("checkpoints"), ec);
}

RunFolder::~RunFolder() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void RunFolder::save_checkpoint(const Trainer& trainer, std::int64_t every,
                                std::int64_t keep) const {
  namespace fs = std::filesystem;
  const std::int64_t step = trainer.steps_done();
  if (every > 0 && step > 0 && step % every == 0) {
    const fs::path dir = file("checkpoints");
    fs::create_directories(dir);
    trainer.save((dir / ("step-" + std::to_string(step) + ".safetensors")).string());
    std::vector<std::pair<std::int64_t, fs::path>> numbered;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("step-", 0) != 0 || entry.path().extension() != ".safetensors") continue;
      try {
        numbered.emplace_back(std::stoll(name.substr(5)), entry.path());
      } catch (const std::exception&) {
        // not one of ours
      }
    }
    std::sort(numbered.begin(), numbered.end());
    for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < numbered.size(); ++i)
      fs::remove(numbered[i].second);
  }
  trainer.save(checkpoint());
}

}  // namespace flowtape::train
