// SPDX-License-Identifier: MIT
// libFuzzer target: the safetensors loader on arbitrary bytes. Every input must either be
// refused with a CheckpointError or decode to tensors that re-encode and decode to the same
// bytes; a decoded file is then validated and loaded against a small model and its optimizer,
// as `flowtape train --resume` does. Crashes, sanitizer reports, hangs and allocations beyond
// libFuzzer's -rss_limit_mb are the findings.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "flowtape/nn/nn.hpp"
#include "fuzz/small_model.hpp"

using namespace flowtape;

namespace {

bool same(const nn::SafetensorsContents& a, const nn::SafetensorsContents& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& [na, ta] = a.tensors[i];
    const auto& [nb, tb] = b.tensors[i];
    if (na != nb || !(ta.shape() == tb.shape()) || ta.dtype() != tb.dtype()) return false;
    const std::size_t bytes = static_cast<std::size_t>(ta.numel()) * dtype_size(ta.dtype());
    if (bytes && std::memcmp(ta.raw_data(), tb.raw_data(), bytes) != 0) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  nn::SafetensorsContents file;
  try {
    file = nn::decode_safetensors(bytes, "fuzz input");
  } catch (const nn::CheckpointError&) {
    return 0;  // refused with a message: the expected outcome for most inputs
  }
  // What was accepted must survive a round trip (encode may not throw on it).
  if (!same(file, nn::decode_safetensors(nn::encode_safetensors(file.tensors, file.metadata))))
    std::abort();

  static fuzz::SmallModel m;  // one model for the whole run: building it per input is slow
  try {
    nn::load_checkpoint(file, "fuzz input", m.model, &m.optimizer);
  } catch (const nn::CheckpointError&) {
  }
  return 0;
}
