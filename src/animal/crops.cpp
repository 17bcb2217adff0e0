#include "animal/crops.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "animal/mask_shape.h"
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

BodyFrame body_frame(const eh::data::Rle* mask, const cv::Rect2f& box) {
  if (mask != nullptr) {
    // The box only scales the fill, which is not used here.
    const MaskShape m = mask_shape(*mask, box.area() > 0 ? box : cv::Rect2f(0, 0, 1, 1));
    if (m.has_mask() && m.major > 0) return {{m.cx, m.cy}, m.angle, 4 * m.major};
  }
  BodyFrame b;
  b.centre = {box.x + 0.5f * box.width - 0.5f, box.y + 0.5f * box.height - 0.5f};
  b.angle = box.width >= box.height ? 0.0f : static_cast<float>(M_PI / 2);
  b.length = std::max(box.width, box.height);
  return b;
}

namespace {

// The pixels of an image of size `image` that make_aligned_crop's turned square covers (clipped,
// into *roi); false when they are none or the frame is degenerate.
bool aligned_square_roi(const BodyFrame& body, const CropOptions& opt, cv::Size image, cv::Rect* roi) {
  const double side = (1 + 2 * opt.margin) * body.length;
  if (!(side > 0) || !std::isfinite(side) || !std::isfinite(body.centre.x) || !std::isfinite(body.centre.y) ||
      !std::isfinite(body.angle))
    return false;
  const double half = 0.5 * std::sqrt(2.0) * side + 1;  // the turned square lies within this
  const cv::Point a(static_cast<int>(std::floor(body.centre.x - half)), static_cast<int>(std::floor(body.centre.y - half)));
  const cv::Point b(static_cast<int>(std::ceil(body.centre.x + half)) + 1, static_cast<int>(std::ceil(body.centre.y + half)) + 1);
  *roi = cv::Rect(a, b) & cv::Rect(0, 0, image.width, image.height);
  return !roi->empty();
}

// The turned square warped from `src` (the image's pixels from `org` on) into `out` (size x
// size): rotated at about the image's own scale, then shrunk by area (a direct warp to the small
// size would sample the image sparsely).
void warp_aligned(const cv::Mat& src, cv::Point org, const BodyFrame& body, const CropOptions& opt, const cv::Scalar& pad,
                  cv::Mat* out) {
  const double side = (1 + 2 * opt.margin) * body.length;
  const int inter = std::max(opt.size, static_cast<int>(std::ceil(side)));
  const double k = inter / side, c = std::cos(body.angle), s = std::sin(body.angle);
  // dst = k R (src + org - centre) + (inter / 2 - 0.5), R turning the axis (c, s) onto (1, 0).
  const double h = inter / 2.0 - 0.5, x0 = body.centre.x - org.x, y0 = body.centre.y - org.y;
  const cv::Matx23d M(k * c, k * s, h - k * (c * x0 + s * y0), -k * s, k * c, h - k * (-s * x0 + c * y0));
  if (inter == opt.size) {
    cv::warpAffine(src, *out, M, out->size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, pad);
  } else {
    cv::Mat big;
    cv::warpAffine(src, big, M, cv::Size(inter, inter), cv::INTER_LINEAR, cv::BORDER_CONSTANT, pad);
    cv::resize(big, *out, out->size(), 0, 0, cv::INTER_AREA);
  }
}

}  // namespace

bool make_aligned_crop(const cv::Mat& bgr, const BodyFrame& body, const CropOptions& opt, cv::Mat* out) {
  if (opt.size <= 0) throw Error("animal crop: size must be > 0, found " + std::to_string(opt.size));
  if (!bgr.empty() && bgr.type() != CV_8UC3)
    throw Error("animal crop: expected an 8-bit BGR image (CV_8UC3), found type " + std::to_string(bgr.type()));
  out->create(opt.size, opt.size, CV_8UC3);
  out->setTo(crop_pad_bgr());
  cv::Rect roi;
  if (bgr.empty() || !aligned_square_roi(body, opt, bgr.size(), &roi)) return false;
  warp_aligned(bgr(roi), roi.tl(), body, opt, crop_pad_bgr(), out);
  return true;
}

bool make_aligned_mask_crop(const eh::data::Rle& mask, const BodyFrame& body, const CropOptions& opt, cv::Mat* out) {
  if (opt.size <= 0) throw Error("animal crop: size must be > 0, found " + std::to_string(opt.size));
  out->create(opt.size, opt.size, CV_8UC1);
  out->setTo(cv::Scalar(0));
  cv::Rect roi;
  if (mask.width <= 0 || mask.height <= 0 || !aligned_square_roi(body, opt, {mask.width, mask.height}, &roi)) return false;
  warp_aligned(eh::data::rle_decode_region(mask, roi), roi.tl(), body, opt, cv::Scalar(0), out);
  return true;
}

void pad_outside_mask(const cv::Mat& mask, cv::Mat* crop) {
  if (mask.size() != crop->size() || mask.type() != CV_8UC1 || crop->type() != CV_8UC3)
    throw Error("animal crop: mask and crop must be the same size, CV_8UC1 and CV_8UC3");
  crop->setTo(crop_pad_bgr(), mask < 128);
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
