// SPDX-License-Identifier: MIT
// inflate: a raw deflate stream (RFC 1951) decoded strictly. Written for gunzip (gzip.hpp): it
// reports where the stream ended, so the gzip trailer can be checked to follow it directly,
// it never reads past its input (a truncated stream is an error, not zero bits), and it
// refuses what RFC 1951 forbids (length codes 286-287, distance codes 30-31, over-subscribed
// Huffman codes, distances before the start of the output). Canonical Huffman codes are
// decoded a bit at a time: simple to check, and fast enough for the example's files.
#pragma once

#include <cstddef>
#include <string>

namespace flowtape::examples {

struct Inflated {
  std::string bytes;         // the decoded data
  std::size_t consumed = 0;  // input bytes up to and including the one holding the final bit
};

// Decodes the stream at data[0, size). Throws std::runtime_error saying why for a malformed
// or truncated stream, and for one that decodes to more than `limit` bytes (checked before
// each write, so memory stays within the limit).
Inflated inflate(const unsigned char* data, std::size_t size, std::size_t limit);

}  // namespace flowtape::examples
