// SPDX-License-Identifier: MIT
// check_outputs: verifies that files an example wrote exist and parse — JSON (nlohmann),
// CSV (numbers, equal column counts), PNG (signature and a non-empty IHDR), safetensors (our
// validating loader). Used by the examples' smoke tests; exits 1 naming the first bad file.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "app/evaluate.hpp"
#include "flowtape/flows/csv.hpp"
#include "flowtape/nn/safetensors.hpp"

namespace {
void check(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("missing");
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.empty()) throw std::runtime_error("empty");
  if (path.ends_with(".json")) {
    const auto j = nlohmann::json::parse(bytes);
    if (j.empty()) throw std::runtime_error("an empty JSON document");
  } else if (path.ends_with(".csv")) {
    flowtape::flows::read_csv(path);
  } else if (path.ends_with(".png")) {
    const std::string sig = "\x89PNG\r\n\x1a\n";
    if (bytes.size() < 24 || bytes.compare(0, 8, sig) != 0 || bytes.compare(12, 4, "IHDR") != 0)
      throw std::runtime_error("not a PNG");
    auto be32 = [&](std::size_t at) {
      return (static_cast<unsigned char>(bytes[at]) << 24) |
             (static_cast<unsigned char>(bytes[at + 1]) << 16) |
             (static_cast<unsigned char>(bytes[at + 2]) << 8) |
             static_cast<unsigned char>(bytes[at + 3]);
    };
    if (be32(16) == 0 || be32(20) == 0) throw std::runtime_error("a PNG with no pixels");
  } else if (path.ends_with(".safetensors")) {
    if (flowtape::nn::load_safetensors(path).tensors.empty())
      throw std::runtime_error("no tensors");
  } else if (path.ends_with(".md")) {
    if (bytes.find('|') == std::string::npos) throw std::runtime_error("no table");
  }
}
}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    try {
      check(argv[i]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "check_outputs: %s: %s\n", argv[i], e.what());
      return 1;
    }
  }
  std::printf("check_outputs: %d files ok\n", argc - 1);
  return 0;
}
