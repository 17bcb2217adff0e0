#include "animal/crops.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "data/rle.h"

namespace eh::animal {

namespace {
constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};  // RGB
constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};
}  // namespace

cv::Scalar crop_pad_bgr() { return cv::Scalar(kMean[2] * 255.0, kMean[1] * 255.0, kMean[0] * 255.0); }

cv::Rect2f crop_square(const cv::Rect2f& box, float margin) {
  if (!std::isfinite(box.x) || !std::isfinite(box.y) || !std::isfinite(box.width) || !std::isfinite(box.height) ||
      box.width <= 0 || box.height <= 0)
    return {};
  const float side = (1 + 2 * margin) * std::max(box.width, box.height);
  return {box.x + 0.5f * box.width - 0.5f * side, box.y + 0.5f * box.height - 0.5f * side, side, side};
}

namespace {

// Resamples the square `sq` (image pixels) into `out` (size x size, already padding). `src`
// holds the image pixels from `org` on (the whole image, or a decoded part of a mask); `image`
// is the full image size. The same arithmetic for pixels and masks keeps them aligned.
bool sample_square(const cv::Mat& src, cv::Point org, cv::Size image, const cv::Rect2f& sq, int size, cv::Mat* out) {
  const int x0 = std::max(0, static_cast<int>(std::floor(sq.x))), y0 = std::max(0, static_cast<int>(std::floor(sq.y)));
  const int x1 = std::min(image.width, static_cast<int>(std::ceil(sq.x + sq.width)));
  const int y1 = std::min(image.height, static_cast<int>(std::ceil(sq.y + sq.height)));
  if (x1 <= x0 || y1 <= y0) return false;
  const double s = size / static_cast<double>(sq.width);
  const int dx0 = std::clamp(static_cast<int>(std::lround((x0 - sq.x) * s)), 0, size - 1);
  const int dy0 = std::clamp(static_cast<int>(std::lround((y0 - sq.y) * s)), 0, size - 1);
  const int dx1 = std::clamp(static_cast<int>(std::lround((x1 - sq.x) * s)), dx0 + 1, size);
  const int dy1 = std::clamp(static_cast<int>(std::lround((y1 - sq.y) * s)), dy0 + 1, size);
  cv::Mat dst = (*out)(cv::Rect(dx0, dy0, dx1 - dx0, dy1 - dy0));
  cv::resize(src(cv::Rect(x0 - org.x, y0 - org.y, x1 - x0, y1 - y0)), dst, dst.size(), 0, 0,
             s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return true;
}

bool box_overlaps(const cv::Rect2f& box, cv::Size image) {
  const cv::Rect2f clipped = box & cv::Rect2f(0, 0, static_cast<float>(image.width), static_cast<float>(image.height));
  return clipped.width > 0 && clipped.height > 0;
}

}  // namespace

bool make_crop(const cv::Mat& bgr, const cv::Rect2f& box, const CropOptions& opt, cv::Mat* out) {
  if (opt.size <= 0) throw Error("animal crop: size must be > 0, found " + std::to_string(opt.size));
  if (!bgr.empty() && bgr.type() != CV_8UC3)
    throw Error("animal crop: expected an 8-bit BGR image (CV_8UC3), found type " + std::to_string(bgr.type()));
  out->create(opt.size, opt.size, CV_8UC3);
  out->setTo(crop_pad_bgr());
  // The box itself must overlap the image (the margin alone does not make a crop).
  if (bgr.empty() || !box_overlaps(box, bgr.size())) return false;
  return sample_square(bgr, {0, 0}, bgr.size(), crop_square(box, opt.margin), opt.size, out);
}

bool make_mask_crop(const eh::data::Rle& mask, const cv::Rect2f& box, const CropOptions& opt, cv::Mat* out) {
  if (opt.size <= 0) throw Error("animal crop: size must be > 0, found " + std::to_string(opt.size));
  out->create(opt.size, opt.size, CV_8UC1);
  out->setTo(cv::Scalar(0));
  const cv::Size image(mask.width, mask.height);
  if (image.area() == 0 || !box_overlaps(box, image)) return false;
  const cv::Rect2f sq = crop_square(box, opt.margin);
  const cv::Point a(static_cast<int>(std::floor(sq.x)), static_cast<int>(std::floor(sq.y)));
  const cv::Point b(static_cast<int>(std::ceil(sq.x + sq.width)), static_cast<int>(std::ceil(sq.y + sq.height)));
  const cv::Rect in = cv::Rect(a, b) & cv::Rect(0, 0, image.width, image.height);
  if (in.empty()) return false;
  return sample_square(eh::data::rle_decode_region(mask, in), in.tl(), image, sq, opt.size, out);
}

void append_normalised_chw(const cv::Mat& crop_bgr, std::vector<float>* out) {
  if (crop_bgr.type() != CV_8UC3) throw Error("animal crop: expected CV_8UC3 crop");
  const int n = crop_bgr.rows * crop_bgr.cols;
  const size_t base = out->size();
  out->resize(base + 3 * static_cast<size_t>(n));
  float* p = out->data() + base;
  for (int y = 0; y < crop_bgr.rows; ++y) {
    const uint8_t* row = crop_bgr.ptr<uint8_t>(y);
    for (int x = 0; x < crop_bgr.cols; ++x) {
      const int i = y * crop_bgr.cols + x;
      for (int c = 0; c < 3; ++c)  // output channel c (RGB) = input channel 2 - c (BGR)
        p[c * n + i] = (row[3 * x + 2 - c] / 255.0f - kMean[c]) / kStd[c];
    }
  }
}

}  // namespace eh::animal
