// SPDX-License-Identifier: MIT
// MetricsLog (metrics_log.hpp). Rows are buffered and flushed about once a second (and at the
// end), so a long run makes few writes and a killed one loses at most a second of rows.
#include "flowtape/train/metrics_log.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "flowtape/nn/atomic_file.hpp"

namespace flowtape::train {
namespace {

// "" for a missing value (NaN), else the number with enough digits to read back.
std::string cell(double v) {
  if (std::isnan(v)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

constexpr std::string_view kHeaderText = MetricsLog::kHeader;
static_assert(std::count(kHeaderText.begin(), kHeaderText.end(), ',') == MetricsLog::kColumns - 1);

}  // namespace

MetricsLog::MetricsLog(std::string path, std::int64_t resumed_at) : path_(std::move(path)) {
  std::string kept = std::string(kHeader) + "\n";
  if (resumed_at > 0) {
    std::ifstream in(path_);
    std::string line;
    bool first = true;
    while (std::getline(in, line)) {
      if (first) {  // the header; an older log without metrics.csv simply starts anew
        first = false;
        continue;
      }
      // A row a killed run left half written (a full disk, or stdio's buffer-sized writes cut
      // short) ends the kept part too: a row is whole only with its newline, since a number
      // cut short still reads as a number.
      if (in.eof()) break;
      const auto commas = std::count(line.begin(), line.end(), ',');
      std::istringstream row(line);
      long long step = 0;
      char comma = 0;
      double wall = 0;
      if (commas != kColumns - 1 || !(row >> step >> comma >> wall) || step > resumed_at) break;
      kept += line + "\n";
      wall_offset_ = wall;
    }
  }
  nn::write_file_atomic(path_, kept);
  file_ = std::fopen(path_.c_str(), "a");
  if (!file_) throw std::runtime_error("cannot append to " + path_ + ": " + std::strerror(errno));
  start_ = last_flush_ = std::chrono::steady_clock::now();
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::append(const StepReport& r) {
  const auto now = std::chrono::steady_clock::now();
  const double wall = wall_offset_ + std::chrono::duration<double>(now - start_).count();
  std::fprintf(file_, "%lld,%s,%s,%s,%s,%s,%s,%s\n", static_cast<long long>(r.step),
               cell(wall).c_str(), cell(r.loss).c_str(), cell(r.cfm).c_str(),
               cell(r.divergence).c_str(), cell(r.lr).c_str(), cell(r.lambda).c_str(),
               cell(r.grad_norm).c_str());
  if (now - last_flush_ > std::chrono::seconds(1)) {
    flush();
    last_flush_ = now;
  }
}

void MetricsLog::flush() {
  if (std::fflush(file_) != 0)
    throw std::runtime_error("cannot write " + path_ + ": " + std::strerror(errno));
}

}  // namespace flowtape::train
