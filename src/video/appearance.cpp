#include "video/appearance.h"

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "track/mask.h"

namespace eh::video {

namespace {
constexpr int kHue = 18, kSat = 4, kVal = 8;
}

std::vector<float> colour_histogram_embedding(const cv::Mat& bgr, const cv::Mat& mask, cv::Rect roi, int min_pixels) {
  const cv::Rect r = roi & cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (r.empty() || bgr.type() != CV_8UC3) return {};
  cv::Mat m = mask(r - roi.tl());
  cv::Mat eroded;
  cv::erode(m, eroded, cv::getStructuringElement(cv::MORPH_ELLIPSE, {5, 5}));
  cv::Mat hsv;
  cv::cvtColor(bgr(r), hsv, cv::COLOR_BGR2HSV);
  std::vector<double> hs(kHue * kSat, 0.0), v(kVal, 0.0);
  double n = 0;
  for (int y = 0; y < hsv.rows; ++y) {
    const uint8_t* mk = eroded.ptr<uint8_t>(y);
    const cv::Vec3b* p = hsv.ptr<cv::Vec3b>(y);
    for (int x = 0; x < hsv.cols; ++x) {
      if (!mk[x]) continue;
      const int hb = std::min(kHue - 1, p[x][0] * kHue / 180);
      const int sb = p[x][1] * kSat / 256, vb = p[x][2] * kVal / 256;
      hs[hb * kSat + sb] += 1;
      v[vb] += 1;
      n += 1;
    }
  }
  if (n < min_pixels) return {};
  std::vector<float> e;
  e.reserve(hs.size() + v.size());
  for (double c : hs) e.push_back(static_cast<float>(std::sqrt(c / n)));
  for (double c : v) e.push_back(static_cast<float>(std::sqrt(c / n)));
  return e;
}

ColourHistogramEmbedder::ColourHistogramEmbedder(std::shared_ptr<const Segmenter> inner) : inner_(std::move(inner)) {}

std::string ColourHistogramEmbedder::name() const { return inner_->name() + " + colour-histogram embeddings"; }

void ColourHistogramEmbedder::attach(const cv::Mat& image, eh::track::Detections& d) const {
  if (image.empty() || d.empty() || !d.has_masks()) return;
  std::vector<std::vector<float>> embs(d.size());
  for (std::size_t j = 0; j < d.size(); ++j) {
    const eh::track::CropMask cm = !d.rles.empty() ? eh::track::crop_mask(d.rles[j]) : eh::track::crop_mask(d.masks[j]);
    if (!cm.empty()) embs[j] = colour_histogram_embedding(image, cm.bits, cm.roi);
  }
  // All or none: an instance too small to describe gets the mean of the others' (neutral).
  std::vector<float> mean;
  int k = 0;
  for (const auto& e : embs)
    if (!e.empty()) {
      if (mean.empty()) mean.assign(e.size(), 0.0f);
      for (std::size_t i = 0; i < e.size(); ++i) mean[i] += e[i];
      ++k;
    }
  if (k == 0) return;
  for (float& x : mean) x /= static_cast<float>(k);
  for (auto& e : embs)
    if (e.empty()) e = mean;
  d.embeddings = std::move(embs);
}

eh::track::Detections ColourHistogramEmbedder::segment(const cv::Mat& image) const {
  eh::track::Detections d = inner_->segment(image);
  attach(image, d);
  return d;
}

eh::track::Detections ColourHistogramEmbedder::segment(const Frame& frame) const {
  eh::track::Detections d = inner_->segment(frame);
  attach(frame.image, d);
  return d;
}

}  // namespace eh::video
