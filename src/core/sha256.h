// SHA-256 (FIPS 180-4) of bytes or a file, as lowercase hex: the checksum `sha256sum` prints, so the provenance
// written next to derived artefacts (e.g. a stored prompt embedding) can be checked with standard tools.
#pragma once
#include <string>
#include <string_view>

namespace eh {

std::string sha256_hex(std::string_view bytes);
// Streams the file; eh::Error naming it when it cannot be read.
std::string sha256_file_hex(const std::string& path);

}  // namespace eh
