// SPDX-License-Identifier: MIT
// Progress line; see progress.hpp.
#include "app/progress.hpp"

#include <unistd.h>

#include <algorithm>

namespace flowtape::app {

Progress::Progress(std::string label, std::int64_t total, std::int64_t first, std::FILE* out)
    : Progress(std::move(label), total, first, out, isatty(fileno(out)) != 0) {}

Progress::Progress(std::string label, std::int64_t total, std::int64_t first, std::FILE* out,
                   bool interactive)
    : label_(std::move(label)),
      total_(std::max<std::int64_t>(total, 1)),
      first_(std::clamp<std::int64_t>(first, 0, total_)),
      out_(out),
      interactive_(interactive),
      next_plain_(first_),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(std::int64_t done, const std::string& fields) {
  const auto now = std::chrono::steady_clock::now();
  if (interactive_) {
    if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
    last_draw_ = now;
    print(done, fields, false);
  } else if (done >= next_plain_ || done == total_) {
    next_plain_ = done + std::max<std::int64_t>(total_ / 20, 1);
    print(done, fields, false);
  }
}

void Progress::finish(const std::string& fields) {
  print(total_, fields, true);
}

void Progress::print(std::int64_t done, const std::string& fields, bool final) {
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done - first_) / secs : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
  std::fprintf(out_, "%s%s %lld/%lld  %s  %.0f it/s  %s %.0fs%s", interactive_ ? "\r\033[K" : "",
               label_.c_str(), static_cast<long long>(done), static_cast<long long>(total_),
               fields.c_str(), rate, final ? "took" : "ETA", final ? secs : eta,
               interactive_ && !final ? "" : "\n");
  std::fflush(out_);
}

}  // namespace flowtape::app
