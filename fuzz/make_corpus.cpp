// SPDX-License-Identifier: MIT
// Writes the generated part of the seed corpus (fuzz/corpus/safetensors/gen_*): checkpoints of
// fuzz::SmallModel written by save_checkpoint, and variants with one field broken, so the
// fuzzer starts from files our own code writes. Run by hand after a format change:
//   build-fuzz/fuzz/make_corpus fuzz/corpus/safetensors
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "flowtape/nn/nn.hpp"
#include "fuzz/small_model.hpp"

using namespace flowtape;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus <folder>\n");
    return 2;
  }
  const std::string dir = argv[1];
  fuzz::SmallModel m;
  nn::save_checkpoint(dir + "/gen_model_optimizer.safetensors", m.model, &m.optimizer,
                      {{"config", "{\"dataset\":\"rings\"}"}, {"generator", "1 2 3"}});
  nn::save_checkpoint(dir + "/gen_model_only.safetensors", m.model);
  nn::save_safetensors(dir + "/gen_mixed_dtypes.safetensors",
                       {{"a", reshape(arange(0, 6, 1, DType::f64), {2, 3})},
                        {"b", zeros({0, 4})},
                        {"c", scalar(1.5)}},
                       {{"k", "v"}});
  const std::string good = read(dir + "/gen_model_only.safetensors");
  write(dir + "/gen_truncated.safetensors", good.substr(0, good.size() - 5));
  std::string bad_len = good;
  bad_len[5] = '\x7f';  // a header length far beyond the file
  write(dir + "/gen_bad_header_length.safetensors", bad_len);
  std::fprintf(stderr, "wrote the seed checkpoints to %s\n", dir.c_str());
  return 0;
}
