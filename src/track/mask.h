// Instance masks cropped to their bounding box, and mask IoU with a shift (motion compensation).
#pragma once
#include <cstddef>
#include <cstdint>
#include <opencv2/core.hpp>

#include "data/rle.h"

namespace eh::track {

struct CropMask {
  cv::Rect roi;   // bounding box of the foreground in image coordinates
  cv::Mat bits;   // CV_8UC1, roi.size(), 1 = foreground, 0 = background
  int64_t area = 0;

  bool empty() const { return area == 0; }
  std::size_t bytes() const { return bits.total(); }
  cv::Point2f centroid_hint() const {
    return {roi.x + 0.5f * roi.width, roi.y + 0.5f * roi.height};
  }
};

// From a full-frame CV_8UC1 mask (non-zero = foreground).
CropMask crop_mask(const cv::Mat& full);
// From COCO RLE, decoding only the bounding box.
CropMask crop_mask(const eh::data::Rle& rle);

// IoU of `a` shifted by (dx, dy) pixels with `b`; 0 when either is empty.
double mask_iou(const CropMask& a, const CropMask& b, cv::Point shift = {0, 0});

double box_iou(const cv::Rect2f& a, const cv::Rect2f& b);

}  // namespace eh::track
