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

// Where an animal's body lies, for crops aligned to it: centre (pixel indices, as OpenCV's
// warps count), direction of the long axis (radians, x right, y down) and length (pixels).
struct BodyFrame {
  cv::Point2f centre;
  float angle = 0;
  float length = 0;
};

// From the visible mask's moments (length = 4 x the standard deviation along the principal
// axis: the full length of a filled ellipse); without a mask (null or empty) from the box: its
// centre, its longer side as length and axis.
BodyFrame body_frame(const eh::data::Rle* mask, const cv::Rect2f& box);

// Crop aligned to the body: a square centred on body.centre, rotated so that the body's axis
// runs along x, side = (1 + 2 margin) x body.length, resampled to size x size (downscaling by
// area, so small markings do not alias). A heading along the axis is not known: the head is
// left or right. Padding as make_crop. Returns false (all padding) when the square misses
// the image or the frame is degenerate.
bool make_aligned_crop(const cv::Mat& bgr, const BodyFrame& body, const CropOptions& opt, cv::Mat* out);

// The mask under the same turned square, CV_8UC1 0..255, pixel for pixel with
// make_aligned_crop's crop; false (all 0) when the square misses the mask's image.
bool make_aligned_mask_crop(const eh::data::Rle& mask, const BodyFrame& body, const CropOptions& opt, cv::Mat* out);

// Sets the crop's pixels where the mask is below half (< 128) to the padding colour: the
// animal without its surroundings.
void pad_outside_mask(const cv::Mat& mask, cv::Mat* crop);

// CHW float planes, RGB, ImageNet-normalised: 3 * size * size floats appended to `out`.
void append_normalised_chw(const cv::Mat& crop_bgr, std::vector<float>* out);

}  // namespace eh::animal
