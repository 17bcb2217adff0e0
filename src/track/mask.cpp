#include "track/mask.h"

#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace eh::track {

CropMask crop_mask(const cv::Mat& full) {
  CropMask m;
  if (full.empty()) return m;
  if (full.type() != CV_8UC1) throw eh::Error("crop_mask: mask must be CV_8UC1");
  const cv::Rect r = cv::boundingRect(full);
  if (r.empty()) return m;
  m.roi = r;
  cv::Mat nz = full(r) != 0;  // 0/255
  m.bits = nz / 255;
  m.area = cv::countNonZero(m.bits);
  return m;
}

CropMask crop_mask(const eh::data::Rle& rle) {
  CropMask m;
  const cv::Rect r = rle.bbox();
  if (r.empty()) return m;
  m.roi = r;
  m.bits = cv::Mat::zeros(r.size(), CV_8UC1);
  // Column-major runs: pixel index k -> x = k / height, y = k % height.
  const int64_t H = rle.height;
  int64_t pos = 0;
  bool one = false;
  for (uint32_t c : rle.counts) {
    if (one && c > 0) {
      int64_t k = pos;
      const int64_t end = pos + c;
      while (k < end) {
        const int64_t x = k / H, y = k % H;
        const int64_t run = std::min<int64_t>(end - k, H - y);  // stay within the column
        uint8_t* col = m.bits.ptr<uint8_t>(0) + (x - r.x);
        for (int64_t yy = y; yy < y + run; ++yy) col[(yy - r.y) * m.bits.step[0]] = 1;
        m.area += run;
        k += run;
      }
    }
    pos += c;
    one = !one;
  }
  return m;
}

double mask_iou(const CropMask& a, const CropMask& b, cv::Point shift) {
  if (a.empty() || b.empty()) return 0;
  const cv::Rect ra = a.roi + shift;
  const cv::Rect inter = ra & b.roi;
  int64_t both = 0;
  if (!inter.empty()) {
    const cv::Mat pa = a.bits(inter - ra.tl());
    const cv::Mat pb = b.bits(inter - b.roi.tl());
    for (int y = 0; y < inter.height; ++y) {
      const uint8_t* p = pa.ptr<uint8_t>(y);
      const uint8_t* q = pb.ptr<uint8_t>(y);
      int s = 0;
      for (int x = 0; x < inter.width; ++x) s += p[x] & q[x];
      both += s;
    }
  }
  const int64_t uni = a.area + b.area - both;
  return uni > 0 ? static_cast<double>(both) / static_cast<double>(uni) : 0.0;
}

double box_iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
  const float x1 = std::min(a.x + a.width, b.x + b.width), y1 = std::min(a.y + a.height, b.y + b.height);
  const double inter = std::max(0.0f, x1 - x0) * static_cast<double>(std::max(0.0f, y1 - y0));
  const double uni = static_cast<double>(a.width) * a.height + static_cast<double>(b.width) * b.height - inter;
  return uni > 0 ? inter / uni : 0.0;
}

}  // namespace eh::track
