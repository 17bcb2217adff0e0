// Memory accounting: every cache in the tracking/streaming path reports what it holds.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace eh::track {

struct CacheUsage {
  std::string name;        // e.g. "tracker.pools"
  std::size_t bytes = 0;   // payload bytes held (buffers, vectors' capacity)
  std::size_t items = 0;   // entries (tracks, samples, frames), for the report
};

inline std::size_t total_bytes(const std::vector<CacheUsage>& v) {
  std::size_t b = 0;
  for (const auto& c : v) b += c.bytes;
  return b;
}

}  // namespace eh::track
