// Internal helpers shared by the metric implementations (not part of the public API).
#pragma once
#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "eval/mot.h"

namespace eh::eval::detail {

// Ids of a TrackSet relabelled 0..n-1 in increasing order of the original id.
struct IdIndex {
  std::vector<std::int64_t> ids;  // sorted
  std::unordered_map<std::int64_t, std::size_t> index;

  explicit IdIndex(const TrackSet& t) {
    for (const auto& [f, dets] : t.frames)
      for (const auto& d : dets) ids.push_back(d.id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    index.reserve(ids.size());
    for (std::size_t k = 0; k < ids.size(); ++k) index.emplace(ids[k], k);
  }
  std::size_t size() const { return ids.size(); }
  std::size_t operator[](std::int64_t id) const { return index.at(id); }
};

// Sorted union of the frame ids of two TrackSets.
inline std::vector<std::int64_t> frame_union(const TrackSet& a, const TrackSet& b) {
  std::vector<std::int64_t> out;
  out.reserve(std::max(a.frames.size(), b.frames.size()));
  auto ia = a.frames.begin(), ib = b.frames.begin();
  while (ia != a.frames.end() || ib != b.frames.end()) {
    if (ib == b.frames.end() || (ia != a.frames.end() && ia->first < ib->first)) {
      out.push_back((ia++)->first);
    } else if (ia == a.frames.end() || ib->first < ia->first) {
      out.push_back((ib++)->first);
    } else {
      out.push_back(ia->first);
      ++ia;
      ++ib;
    }
  }
  return out;
}

inline const std::vector<Detection>& frame_or_empty(const TrackSet& t, std::int64_t frame) {
  static const std::vector<Detection> empty;
  const auto it = t.frames.find(frame);
  return it == t.frames.end() ? empty : it->second;
}

}  // namespace eh::eval::detail
