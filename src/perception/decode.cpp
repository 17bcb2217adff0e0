#include "perception/decode.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace eh::perception {

DecodeOptions DecodeOptions::from(Config& c) {
  DecodeOptions o;
  o.centre_threshold = c.get_or<float>("centre_threshold", o.centre_threshold);
  o.nms_kernel = c.get_or<int>("nms_kernel", o.nms_kernel);
  o.max_instances = c.get_or<int>("max_instances", o.max_instances);
  o.foreground_threshold = c.get_or<float>("foreground_threshold", o.foreground_threshold);
  o.work_scale = c.get_or<float>("work_scale", o.work_scale);
  o.min_area = c.get_or<int>("min_area", o.min_area);
  o.largest_component = c.get_or<bool>("largest_component", o.largest_component);
  if (o.nms_kernel < 1 || o.nms_kernel % 2 == 0) throw Error(c.label() + ": nms_kernel must be odd and positive");
  if (o.max_instances < 1 || o.max_instances > 255) throw Error(c.label() + ": max_instances must be 1..255");
  if (!(o.work_scale > 0 && o.work_scale <= 1)) throw Error(c.label() + ": work_scale must be in (0, 1]");
  c.finish();
  return o;
}

std::vector<Peak> find_peaks(const cv::Mat& centre, const DecodeOptions& opt) {
  if (centre.empty() || centre.type() != CV_32FC1) throw Error("decode: centre map must be a non-empty CV_32FC1 image");
  cv::Mat pooled;
  cv::dilate(centre, pooled, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(opt.nms_kernel, opt.nms_kernel)),
             cv::Point(-1, -1), 1, cv::BORDER_CONSTANT, cv::Scalar(-1));
  std::vector<Peak> peaks;
  for (int y = 0; y < centre.rows; ++y) {
    const float* c = centre.ptr<float>(y);
    const float* p = pooled.ptr<float>(y);
    for (int x = 0; x < centre.cols; ++x)
      if (c[x] >= opt.centre_threshold && c[x] >= p[x]) peaks.push_back({cv::Point2f(x + 0.5f, y + 0.5f), c[x]});
  }
  // Plateaus (equal neighbours) give several maxima: keep the first of any pair closer than the kernel.
  std::stable_sort(peaks.begin(), peaks.end(), [](const Peak& a, const Peak& b) { return a.score > b.score; });
  std::vector<Peak> kept;
  const float r = opt.nms_kernel / 2.0f;
  for (const auto& p : peaks) {
    bool near = false;
    for (const auto& k : kept) near = near || (std::abs(k.at.x - p.at.x) <= r && std::abs(k.at.y - p.at.y) <= r);
    if (!near) kept.push_back(p);
    if (static_cast<int>(kept.size()) >= opt.max_instances) break;
  }
  return kept;
}

namespace {

// Each instance keeps only its largest 8-connected piece: pixels that voted for a centre across a
// gap (a huddle neighbour's edge, a stray blob) would otherwise stretch its box.
void keep_largest_components(cv::Mat& labels, int instances) {
  cv::Mat one, comp, stats, centroids;
  for (int k = 1; k <= instances; ++k) {
    cv::compare(labels, k, one, cv::CMP_EQ);
    const int n = cv::connectedComponentsWithStats(one, comp, stats, centroids, 8, CV_32S);
    if (n <= 2) continue;  // background + at most one piece
    int best = 1;
    for (int j = 2; j < n; ++j)
      if (stats.at<int>(j, cv::CC_STAT_AREA) > stats.at<int>(best, cv::CC_STAT_AREA)) best = j;
    for (int y = 0; y < labels.rows; ++y) {
      const int* c = comp.ptr<int>(y);
      uint8_t* l = labels.ptr<uint8_t>(y);
      for (int x = 0; x < labels.cols; ++x)
        if (c[x] > 0 && c[x] != best) l[x] = 0;
    }
  }
}

}  // namespace

eh::track::Detections decode(const HeadMaps& m, cv::Size frame, const DecodeOptions& opt) {
  const cv::Size hs = m.centre.size();
  for (const cv::Mat* x : {&m.foreground, &m.centre, &m.dx, &m.dy})
    if (x->size() != hs || x->type() != CV_32FC1)
      throw Error("decode: head maps must all be CV_32FC1 of one size (centre " + std::to_string(hs.width) + "x" +
                  std::to_string(hs.height) + ")");
  if (frame.width < 1 || frame.height < 1) throw Error("decode: empty frame size");
  eh::track::Detections det;
  const auto peaks = find_peaks(m.centre, opt);
  if (peaks.empty()) return det;

  // Grouping at work resolution: bilinear foreground and offsets, each pixel to the peak nearest
  // to the centre it votes for.
  const cv::Size ws(std::max(1, static_cast<int>(std::lround(frame.width * opt.work_scale))),
                    std::max(1, static_cast<int>(std::lround(frame.height * opt.work_scale))));
  cv::Mat fg, dx, dy;
  cv::resize(m.foreground, fg, ws, 0, 0, cv::INTER_LINEAR);
  cv::resize(m.dx, dx, ws, 0, 0, cv::INTER_LINEAR);
  cv::resize(m.dy, dy, ws, 0, 0, cv::INTER_LINEAR);
  cv::Mat labels(ws, CV_8UC1, cv::Scalar(0));
  const float sx = static_cast<float>(hs.width) / ws.width, sy = static_cast<float>(hs.height) / ws.height;
  for (int v = 0; v < ws.height; ++v) {
    const float* f = fg.ptr<float>(v);
    const float* ox = dx.ptr<float>(v);
    const float* oy = dy.ptr<float>(v);
    uint8_t* l = labels.ptr<uint8_t>(v);
    const float yc = (v + 0.5f) * sy;
    for (int u = 0; u < ws.width; ++u) {
      if (f[u] < opt.foreground_threshold) continue;
      const float cx = (u + 0.5f) * sx + ox[u], cy = yc + oy[u];
      int best = 0;
      float bd = 1e30f;
      for (size_t k = 0; k < peaks.size(); ++k) {
        const float ex = peaks[k].at.x - cx, ey = peaks[k].at.y - cy, d = ex * ex + ey * ey;
        if (d < bd) bd = d, best = static_cast<int>(k);
      }
      l[u] = static_cast<uint8_t>(best + 1);
    }
  }
  if (opt.largest_component) keep_largest_components(labels, static_cast<int>(peaks.size()));
  cv::Mat full;
  if (ws == frame) full = labels;
  else cv::resize(labels, full, frame, 0, 0, cv::INTER_NEAREST);
  auto rles = eh::data::rle_encode_labels(full, static_cast<int>(peaks.size()));
  for (size_t k = 0; k < peaks.size(); ++k) {
    if (rles[k].area() < opt.min_area) continue;
    const cv::Rect b = rles[k].bbox();
    det.add(cv::Rect2f(static_cast<float>(b.x), static_cast<float>(b.y), static_cast<float>(b.width),
                       static_cast<float>(b.height)),
            peaks[k].score);
    det.rles.push_back(std::move(rles[k]));
  }
  return det;
}

Targets make_targets(const cv::Mat& labels, cv::Size head, float sigma) {
  if (labels.empty() || labels.type() != CV_8UC1) throw Error("make_targets: labels must be a non-empty CV_8UC1 image");
  // Visible-mask centroids at frame resolution, in cell units.
  std::vector<double> n(256, 0), sx(256, 0), sy(256, 0);
  for (int y = 0; y < labels.rows; ++y) {
    const uint8_t* l = labels.ptr<uint8_t>(y);
    for (int x = 0; x < labels.cols; ++x)
      if (l[x]) n[l[x]] += 1, sx[l[x]] += x + 0.5, sy[l[x]] += y + 0.5;
  }
  const double kx = static_cast<double>(head.width) / labels.cols, ky = static_cast<double>(head.height) / labels.rows;
  std::vector<cv::Point2f> c(256);
  for (int k = 1; k < 256; ++k)
    if (n[k] > 0) c[k] = cv::Point2f(static_cast<float>(sx[k] / n[k] * kx), static_cast<float>(sy[k] / n[k] * ky));

  Targets t;
  cv::Mat small;
  cv::resize(labels, small, head, 0, 0, cv::INTER_NEAREST);
  t.foreground = cv::Mat(head, CV_32FC1, cv::Scalar(0));
  t.centre = cv::Mat(head, CV_32FC1, cv::Scalar(0));
  t.dx = cv::Mat(head, CV_32FC1, cv::Scalar(0));
  t.dy = cv::Mat(head, CV_32FC1, cv::Scalar(0));
  for (int y = 0; y < head.height; ++y)
    for (int x = 0; x < head.width; ++x) {
      const int k = small.at<uint8_t>(y, x);
      if (!k || n[k] == 0) continue;
      t.foreground.at<float>(y, x) = 1;
      t.dx.at<float>(y, x) = c[k].x - (x + 0.5f);
      t.dy.at<float>(y, x) = c[k].y - (y + 0.5f);
    }
  const float s2 = 2 * sigma * sigma;
  for (int k = 1; k < 256; ++k) {
    if (n[k] == 0) continue;
    // The peak cell holds exactly 1 (focal-loss positives), neighbours the Gaussian.
    const int px = std::clamp(static_cast<int>(c[k].x), 0, head.width - 1), py = std::clamp(static_cast<int>(c[k].y), 0, head.height - 1);
    const int r = static_cast<int>(std::ceil(3 * sigma));
    for (int y = std::max(0, py - r); y <= std::min(head.height - 1, py + r); ++y)
      for (int x = std::max(0, px - r); x <= std::min(head.width - 1, px + r); ++x) {
        const float g = std::exp(-static_cast<float>((x - px) * (x - px) + (y - py) * (y - py)) / s2);
        float& v = t.centre.at<float>(y, x);
        v = std::max(v, g);
      }
  }
  return t;
}

}  // namespace eh::perception
