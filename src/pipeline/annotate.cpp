#include "pipeline/annotate.h"

#include <fmt/format.h>

#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "report/html.h"

namespace eh::pipeline {

cv::Scalar id_bgr(int id) {
  const auto c = eh::report::id_rgb(id);
  return cv::Scalar(c[2], c[1], c[0]);
}

void tint_rle(cv::Mat& bgr, const eh::data::Rle& rle, const cv::Scalar& colour, double alpha) {
  if (bgr.type() != CV_8UC3) throw eh::Error("tint_rle: expected a CV_8UC3 image");
  if (rle.height != bgr.rows || rle.width != bgr.cols)
    throw eh::Error(fmt::format("tint_rle: mask is {}x{}, image is {}x{}", rle.width, rle.height, bgr.cols, bgr.rows));
  const int a = static_cast<int>(std::lround(std::clamp(alpha, 0.0, 1.0) * 256));
  const int cb = static_cast<int>(colour[0]) * a, cg = static_cast<int>(colour[1]) * a, cr = static_cast<int>(colour[2]) * a;
  const int keep = 256 - a;
  uint64_t total = 0;
  for (uint32_t run : rle.counts) total += run;
  if (total != static_cast<uint64_t>(rle.height) * static_cast<uint64_t>(rle.width))
    throw eh::Error(fmt::format("tint_rle: mask counts sum to {}, expected {}x{}", total, rle.width, rle.height));
  const int64_t H = rle.height;
  int64_t pos = 0;
  bool fg = false;
  for (uint32_t run : rle.counts) {
    if (fg) {
      // Column-major: position k is (x = k / H, y = k % H).
      int x = static_cast<int>(pos / H), y = static_cast<int>(pos % H);
      const std::size_t step = bgr.step;
      uint8_t* p = bgr.ptr<uint8_t>(y) + 3 * x;
      for (uint32_t k = 0; k < run; ++k) {
        p[0] = static_cast<uint8_t>((p[0] * keep + cb) >> 8);
        p[1] = static_cast<uint8_t>((p[1] * keep + cg) >> 8);
        p[2] = static_cast<uint8_t>((p[2] * keep + cr) >> 8);
        if (++y == H) {  // next column
          y = 0;
          ++x;
          p = bgr.ptr<uint8_t>(0) + 3 * x;
        } else {
          p += step;
        }
      }
    }
    pos += run;
    fg = !fg;
  }
}

void annotate_frame(cv::Mat& bgr, const std::vector<AnnotatedObject>& objects, int64_t frame, double t,
                    const std::string& caption) {
  if (bgr.empty()) return;
  const double scale = std::max(0.4, bgr.rows / 1440.0);
  const int thick = std::max(1, static_cast<int>(std::lround(bgr.rows / 500.0)));
  for (const auto& o : objects)
    if (o.mask && o.mask->height == bgr.rows && o.mask->width == bgr.cols) tint_rle(bgr, *o.mask, id_bgr(o.id), 0.45);
  for (const auto& o : objects) {
    const cv::Scalar c = id_bgr(o.id);
    const cv::Rect r(cv::Point(static_cast<int>(o.box.x), static_cast<int>(o.box.y)),
                     cv::Size(static_cast<int>(o.box.width), static_cast<int>(o.box.height)));
    cv::rectangle(bgr, r, c, thick);
    const std::string text = o.label.empty() ? fmt::format("{}", o.id) : fmt::format("{} {}", o.id, o.label);
    int base = 0;
    const cv::Size ts = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, thick, &base);
    cv::Point org(std::max(0, r.x), std::max(ts.height + 2, r.y - 3));
    cv::rectangle(bgr, cv::Rect(org.x, org.y - ts.height - 2, ts.width + 4, ts.height + base + 2), c, cv::FILLED);
    cv::putText(bgr, text, org + cv::Point(2, 0), cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(0, 0, 0), thick, cv::LINE_AA);
  }
  const std::string cap = fmt::format("frame {}  t {:.1f} s{}{}", frame + 1, t, caption.empty() ? "" : "  ", caption);
  int base = 0;
  const cv::Size ts = cv::getTextSize(cap, cv::FONT_HERSHEY_SIMPLEX, scale * 1.2, thick, &base);
  cv::rectangle(bgr, cv::Rect(0, 0, ts.width + 12, ts.height + base + 10), cv::Scalar(0, 0, 0), cv::FILLED);
  cv::putText(bgr, cap, cv::Point(6, ts.height + 5), cv::FONT_HERSHEY_SIMPLEX, scale * 1.2, cv::Scalar(255, 255, 255), thick,
              cv::LINE_AA);
}

}  // namespace eh::pipeline
