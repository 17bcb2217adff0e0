#include "track/detections.h"

#include <fmt/core.h>

#include <cmath>

#include "core/error.h"

namespace eh::track {

void Detections::validate(const std::string& where) const {
  const std::size_t n = boxes.size();
  auto bad = [&](const std::string& what) { throw eh::Error(fmt::format("{}: {}", where, what)); };
  if (scores.size() != n) bad(fmt::format("{} boxes but {} scores", n, scores.size()));
  if (!masks.empty() && !rles.empty()) bad("both cv::Mat masks and RLE masks given; use one");
  if (!masks.empty() && masks.size() != n) bad(fmt::format("{} boxes but {} masks", n, masks.size()));
  if (!rles.empty() && rles.size() != n) bad(fmt::format("{} boxes but {} RLE masks", n, rles.size()));
  if (!embeddings.empty() && embeddings.size() != n)
    bad(fmt::format("{} boxes but {} embeddings", n, embeddings.size()));
  for (std::size_t i = 0; i < n; ++i) {
    const auto& b = boxes[i];
    if (!std::isfinite(b.x) || !std::isfinite(b.y) || !std::isfinite(b.width) || !std::isfinite(b.height) ||
        b.width < 0 || b.height < 0)
      bad(fmt::format("instance {}: box ({}, {}, {}, {}) is not finite or has negative size", i, b.x, b.y, b.width,
                      b.height));
    if (!std::isfinite(scores[i])) bad(fmt::format("instance {}: score is not finite", i));
    if (!masks.empty() && !masks[i].empty() && masks[i].type() != CV_8UC1)
      bad(fmt::format("instance {}: mask type {} (expected CV_8UC1)", i, masks[i].type()));
  }
  if (!embeddings.empty()) {
    const std::size_t d = embeddings[0].size();
    for (std::size_t i = 0; i < n; ++i) {
      if (embeddings[i].size() != d)
        bad(fmt::format("instance {}: embedding dimension {} (instance 0 has {})", i, embeddings[i].size(), d));
      for (float v : embeddings[i])
        if (!std::isfinite(v)) bad(fmt::format("instance {}: embedding has a non-finite value", i));
    }
  }
}

const std::vector<eh::data::Rle>* Detections::mask_rles(std::vector<eh::data::Rle>* scratch) const {
  if (!rles.empty()) return &rles;
  if (masks.empty()) return nullptr;
  scratch->clear();
  for (const auto& m : masks) scratch->push_back(eh::data::rle_encode(m));
  return scratch;
}

std::size_t Detections::bytes() const {
  std::size_t b = boxes.capacity() * sizeof(cv::Rect2f) + scores.capacity() * sizeof(float);
  for (const auto& m : masks) b += m.total() * m.elemSize();
  for (const auto& r : rles) b += r.counts.capacity() * sizeof(uint32_t) + sizeof(r);
  for (const auto& e : embeddings) b += e.capacity() * sizeof(float) + sizeof(e);
  return b;
}

}  // namespace eh::track
