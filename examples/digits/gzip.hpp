// SPDX-License-Identifier: MIT
// gunzip: the contents of a single-member .gz file (RFC 1952), checked against its CRC-32 and
// length, with its deflate stream (inflate.hpp) ending exactly where the trailer begins. The
// output is bounded (64 MiB) by the length the file states, before decoding, and decoding
// stops at that length.
#pragma once

#include <cstddef>
#include <string>

namespace flowtape::examples {

// The largest file gunzip reads: twice what a member inflating to its 64 MiB bound needs
// (stored blocks add 5 bytes per 64 KiB).
inline constexpr std::size_t kMostGzipBytes = std::size_t{128} << 20;

// Throws std::runtime_error naming `source` for anything but a well-formed gzip member.
std::string gunzip(const std::string& bytes, const std::string& source);

}  // namespace flowtape::examples
