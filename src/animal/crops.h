// Fixed-size square crops of animals for the embedder: a square centred on the box, its side
// the box's longer side plus a margin, resized to size x size (aspect kept: the shorter side
// shows the surroundings); parts outside the image are a neutral grey (the ImageNet mean,
// which normalises to zero). No LibTorch here.
#pragma once
#include <cstdint>
#include <opencv2/core.hpp>
#include <vector>

namespace eh::data {
struct Rle;
}

namespace eh::animal {

struct CropOptions {
  int size = 64;         // output is size x size
  float margin = 0.05f;  // widen the box by this fraction of its longer side on every side
};

// The ImageNet mean as 8-bit BGR: the padding colour.
cv::Scalar crop_pad_bgr();

// BGR 8-bit crop (size x size, CV_8UC3). Returns false (and leaves `out` all padding) when the
// box does not overlap the image.
bool make_crop(const cv::Mat& bgr, const cv::Rect2f& box, const CropOptions& opt, cv::Mat* out);

// The animal's mask under the same square, CV_8UC1 0..255 (resampling makes edges fractional),
// aligned pixel for pixel with make_crop's crop; 0 outside the image. Returns false (all 0)
// when the box does not overlap the mask's image.
bool make_mask_crop(const eh::data::Rle& mask, const cv::Rect2f& box, const CropOptions& opt, cv::Mat* out);

// The square make_crop samples, in image pixels (may extend past the image); empty for a box
// with non-positive or non-finite size.
cv::Rect2f crop_square(const cv::Rect2f& box, float margin);

// CHW float planes, RGB, ImageNet-normalised: 3 * size * size floats appended to `out`.
void append_normalised_chw(const cv::Mat& crop_bgr, std::vector<float>* out);

}  // namespace eh::animal
