// Per-frame instances as one struct of arrays (after supervision's `Detections`): what any
// segmenter hands to the tracker. Index i of every non-empty array describes instance i.
//
//   eh::track::Detections d;
//   d.add({10, 20, 40, 30}, 0.9f);                  // box (x, y, w, h, pixels) and score
//   d.masks.push_back(mask);                         // optional: all or none, CV_8UC1 full frame
//   d.embeddings.push_back(std::vector<float>(64));  // optional: all or none
//
// Masks come either as full-frame binary images (`masks`, CV_8UC1, non-zero = instance) or as
// COCO RLE (`rles`); a detection set uses at most one of the two. Embeddings are appearance
// vectors of one common dimension (any scale: the tracker normalises them).
#pragma once
#include <cstddef>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "data/rle.h"

namespace eh::track {

struct Detections {
  std::vector<cv::Rect2f> boxes;               // x, y, w, h in pixels (top-left origin)
  std::vector<float> scores;                   // confidence in [0, 1]
  std::vector<cv::Mat> masks;                  // optional, CV_8UC1 full-frame masks
  std::vector<eh::data::Rle> rles;             // optional, COCO RLE masks (instead of `masks`)
  std::vector<std::vector<float>> embeddings;  // optional appearance vectors

  std::size_t size() const { return boxes.size(); }
  bool empty() const { return boxes.empty(); }
  bool has_masks() const { return !masks.empty() || !rles.empty(); }
  bool has_embeddings() const { return !embeddings.empty(); }
  int embedding_dim() const { return embeddings.empty() ? 0 : static_cast<int>(embeddings[0].size()); }

  // Appends a box and a score (masks and embeddings are pushed by the caller).
  void add(const cv::Rect2f& box, float score = 1.0f) {
    boxes.push_back(box);
    scores.push_back(score);
  }

  // Throws eh::Error (naming `where` and the offending field/index) when array sizes disagree,
  // both mask forms are used, a box is not finite or has negative size, a mask is not CV_8UC1,
  // or embeddings differ in dimension or contain non-finite values.
  void validate(const std::string& where = "detections") const;

  // Bytes held by the arrays (masks and embeddings included).
  std::size_t bytes() const;

  // The masks as COCO RLEs: &rles, or `masks` encoded into *scratch; null when there are none.
  const std::vector<eh::data::Rle>* mask_rles(std::vector<eh::data::Rle>* scratch) const;
};

}  // namespace eh::track
