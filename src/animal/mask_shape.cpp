#include "animal/mask_shape.h"

#include <algorithm>
#include <cmath>

namespace eh::animal {

MaskShape mask_shape(const eh::data::Rle& mask, const cv::Rect2f& box) {
  MaskShape s;
  const int64_t H = mask.height;
  if (H <= 0 || box.area() <= 0) return s;
  // Raw moments over the runs of ones; COCO order is column-major, so a run is a vertical
  // segment that may continue at the top of the next column.
  double n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  int64_t pos = 0;
  for (size_t i = 0; i < mask.counts.size(); ++i) {
    int64_t c = mask.counts[i];
    if (i % 2 == 1) {
      int64_t p = pos;
      while (c > 0) {
        const double x = static_cast<double>(p / H);
        const int64_t y0 = p % H, len = std::min<int64_t>(c, H - y0);
        const double a = static_cast<double>(y0), b = static_cast<double>(y0 + len - 1), L = static_cast<double>(len);
        const double sum_y = (a + b) * L / 2;
        const double sum_y2 = (b * (b + 1) * (2 * b + 1) - (a - 1) * a * (2 * a - 1)) / 6;  // sum of k^2, k = a..b
        n += L;
        sx += x * L;
        sy += sum_y;
        sxx += x * x * L;
        syy += sum_y2;
        sxy += x * sum_y;
        p += len;
        c -= len;
      }
    }
    pos += mask.counts[i];
  }
  if (n <= 0) return s;
  const double mx = sx / n, my = sy / n;
  // Pixel-centre variances plus 1/12 for the pixel's own extent (a 1-pixel line is not 0 wide).
  const double cxx = sxx / n - mx * mx + 1.0 / 12, cyy = syy / n - my * my + 1.0 / 12, cxy = sxy / n - mx * my;
  const double tr = cxx + cyy, det = cxx * cyy - cxy * cxy;
  const double disc = std::sqrt(std::max(0.0, tr * tr / 4 - det));
  const double l1 = tr / 2 + disc, l2 = std::max(tr / 2 - disc, 0.0);
  s.fill = static_cast<float>(std::min(1.0, n / box.area()));
  s.major = static_cast<float>(std::sqrt(l1));
  s.elong = l1 > 0 ? static_cast<float>(std::sqrt(l2 / l1)) : 0.0f;
  s.compact = l1 > 0 && l2 > 0 ? static_cast<float>(n / (4 * M_PI * std::sqrt(l1 * l2))) : 0.0f;
  s.cx = static_cast<float>(mx);
  s.cy = static_cast<float>(my);
  s.angle = static_cast<float>(0.5 * std::atan2(2 * cxy, cxx - cyy));
  return s;
}

}  // namespace eh::animal
