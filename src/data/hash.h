// FNV-1a (64-bit) for golden hashes of ground-truth text. Not cryptographic.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace eh::data {

constexpr uint64_t kFnv1aOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnv1aPrime = 0x100000001b3ULL;

inline uint64_t fnv1a64(std::string_view bytes, uint64_t h = kFnv1aOffset) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnv1aPrime;
  }
  return h;
}

inline std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace eh::data
