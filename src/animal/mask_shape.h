// Shape of an animal's visible mask for the behaviour features (no LibTorch): how much of its
// box it fills and its second moments. From above, posture shows in the body's outline: a
// lying pig is wider for its length than a standing one (lateral lying most), a sitting one
// shorter; the box alone cannot show this for an animal lying diagonally.
#pragma once
#include <opencv2/core/types.hpp>

#include "data/rle.h"

namespace eh::animal {

struct MaskShape {
  float fill = -1;     // visible pixels / box area in [0, 1]; < 0: no mask (all fields unset)
  float elong = 0;     // minor / major standard deviation of the pixels (1: a disc, -> 0: a line)
  float major = 0;     // standard deviation along the principal axis, pixels
  float compact = 0;   // area / (4 pi major minor): 1 for a filled ellipse, less for ragged outlines
  // Centroid (pixel indices: the first pixel's centre is 0, as OpenCV's warps count) and the
  // principal axis's direction, radians in (-pi/2, pi/2], x right and y down.
  float cx = 0, cy = 0, angle = 0;
  bool has_mask() const { return fill >= 0; }
};

// From the mask's runs (no decoding). `box` only scales `fill`; an empty mask or box gives
// MaskShape{} (no mask).
MaskShape mask_shape(const eh::data::Rle& mask, const cv::Rect2f& box);

}  // namespace eh::animal
