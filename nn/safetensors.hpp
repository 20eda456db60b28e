// SPDX-License-Identifier: MIT
// The safetensors file format (https://github.com/huggingface/safetensors), so checkpoints open
// in PyTorch, JAX and numpy tools:
//
//   [u64 little-endian N][N bytes of JSON header, space-padded to 8-byte alignment][data]
//   header = {"<name>": {"dtype": "F32"|"F64", "shape": [...], "data_offsets": [begin, end]},
//             ..., "__metadata__": {"<key>": "<string>"}}
//
// offsets are relative to the start of the data and each tensor is row-major little-endian.
// flowtape reads and writes F32 and F64 (its tensor dtypes) and refuses any other dtype by
// name. Loading checks everything and throws CheckpointError naming the problem: a truncated
// file, a header length beyond the file, invalid JSON or JSON nested more than 32 levels, a
// bad or unsupported dtype, a shape that is not a list of extents or has more than 2^63
// elements, offsets that are out of range, overlap, or disagree with shape x itemsize. Writing is
// atomic: the bytes go to "<path>.tmp.<pid>.<n>", are fsync'ed and renamed over <path>, so a failed
// save never leaves a half-written file where the old one was.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include "flowtape/nn/named_tensors.hpp"

namespace flowtape::nn {

class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Metadata = std::map<std::string, std::string>;

struct SafetensorsContents {
  NamedTensors tensors;  // in file (data offset) order
  Metadata metadata;
};

// Tensors on a device are copied to the host for writing; loading gives host tensors.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const Metadata& metadata = {});
SafetensorsContents load_safetensors(const std::string& path);

// The same on bytes in memory; `source` names them in error messages.
std::string encode_safetensors(const NamedTensors& tensors, const Metadata& metadata = {});
SafetensorsContents decode_safetensors(std::string_view bytes,
                                       const std::string& source = "buffer");

}  // namespace flowtape::nn
