// SPDX-License-Identifier: MIT
// gunzip: the contents of a single-member .gz file (RFC 1952), checked against its CRC-32 and
// length. The deflate stream is decoded by stb_image's zlib decoder (libstb-dev, which the
// plots already use), so no other library is needed to read a .csv.gz. The output is bounded
// (64 MiB) before decoding, by the length the file states and into a buffer of that size.
#pragma once

#include <string>

namespace flowtape::examples {

// Throws std::runtime_error naming `source` for anything but a well-formed gzip member.
std::string gunzip(const std::string& bytes, const std::string& source);

}  // namespace flowtape::examples
