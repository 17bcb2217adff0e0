// Test doubles for the pipeline tests: a synthetic "pen" video of dark discs on a light floor, a
// segmenter that finds dark blobs (connected components), an embedder and a behaviour model
// that record how the pipeline calls them.
#pragma once
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <set>
#include <string>
#include <vector>

#include "animal/embedder.h"
#include "video/segmenter.h"

namespace eh::test {

// Frame k of a 320x240 scene: `discs` dark discs (radius 18) on a light, slightly textured
// floor, each moving on its own straight path; discs = 0 gives an empty pen.
inline cv::Mat disc_frame(int k, int discs) {
  cv::Mat img(240, 320, CV_8UC3, cv::Scalar(200, 205, 210));
  for (int y = 0; y < img.rows; y += 16) cv::line(img, {0, y}, {img.cols, y}, cv::Scalar(190, 195, 200), 1);
  for (int d = 0; d < discs; ++d) {
    auto bounce = [](int v, int range) { const int m = v % (2 * range); return m < range ? m : 2 * range - m; };
    const int x = 40 + d * 90 + bounce(k * (d + 1), 40);  // smooth back-and-forth paths
    const int y = 50 + d * 60 + bounce(k * 2, 30);
    cv::circle(img, {x, y}, 18, cv::Scalar(40 + 30 * d, 50, 60), cv::FILLED, cv::LINE_8);
  }
  return img;
}

// Writes `frames` frames as MJPG/AVI at 10 fps; empty path when this OpenCV cannot.
inline std::filesystem::path write_disc_video(const std::filesystem::path& path, int frames, int discs) {
  cv::VideoWriter w(path.string(), cv::CAP_FFMPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0, cv::Size(320, 240));
  if (!w.isOpened()) return {};
  for (int i = 0; i < frames; ++i) w.write(disc_frame(i, discs));
  w.release();
  return path;
}

// A live "camera" of disc frames that delivers `good` frames, then fails on every read and
// every reconnect (the camera went away).
class VanishingCamera : public eh::video::FrameSource {
 public:
  VanishingCamera(int good, int discs) : good_(good), discs_(discs) {}
  eh::video::ReadResult read() override {
    eh::video::ReadResult r;
    if (next_ >= good_) {
      r.status = eh::video::ReadStatus::Failed;
      r.message = "camera: connection lost";
      return r;
    }
    r.status = eh::video::ReadStatus::Ok;
    r.frame.index = next_;
    r.frame.t = next_ / 10.0;
    r.frame.image = disc_frame(next_, discs_);
    ++next_;
    return r;
  }
  bool reconnect() override { return false; }
  bool live() const override { return true; }
  double fps() const override { return 10; }
  std::string describe() const override { return "vanishing test camera"; }

 private:
  int good_, discs_, next_ = 0;
};

// Dark blobs (grey < 120) of at least 200 pixels: box, full-frame mask, score 0.9.
class DarkBlobSegmenter : public eh::video::Segmenter {
 public:
  eh::track::Detections segment(const cv::Mat& image) const override {
    eh::track::Detections d;
    if (image.empty()) return d;
    cv::Mat grey, dark, labels, stats, centroids;
    cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
    cv::threshold(grey, dark, 120, 255, cv::THRESH_BINARY_INV);
    const int n = cv::connectedComponentsWithStats(dark, labels, stats, centroids, 8, CV_32S);
    for (int i = 1; i < n; ++i) {
      if (stats.at<int>(i, cv::CC_STAT_AREA) < 200) continue;
      d.add(cv::Rect2f(static_cast<float>(stats.at<int>(i, cv::CC_STAT_LEFT)), static_cast<float>(stats.at<int>(i, cv::CC_STAT_TOP)),
                       static_cast<float>(stats.at<int>(i, cv::CC_STAT_WIDTH)), static_cast<float>(stats.at<int>(i, cv::CC_STAT_HEIGHT))),
            0.9f);
      d.masks.push_back(labels == i);
    }
    return d;
  }
  std::string name() const override { return "dark blobs (test)"; }
};

// Mean BGR of each box, centred and L2-normalised (3 dims); records the calls.
class MeanColourEmbedder : public eh::animal::Embedder {
 public:
  int dim() const override { return 3; }
  std::vector<std::vector<float>> embed(const cv::Mat& bgr, const std::vector<cv::Rect2f>& boxes,
                                        const std::vector<eh::data::Rle>* /*masks*/ = nullptr) const override {
    calls++;
    std::vector<std::vector<float>> out;
    for (const auto& b : boxes) {
      const cv::Rect r = cv::Rect(b) & cv::Rect(0, 0, bgr.cols, bgr.rows);
      std::vector<float> v(3, 0.0f);
      if (r.area() > 0) {
        const cv::Scalar m = cv::mean(bgr(r));
        for (int c = 0; c < 3; ++c) v[static_cast<std::size_t>(c)] = static_cast<float>(m[c] - 128.0 + 1.0 + c);
        float n = 0;
        for (float x : v) n += x * x;
        n = std::sqrt(n);
        for (float& x : v) x /= n;
      }
      out.push_back(v);
    }
    return out;
  }
  std::string name() const override { return "mean colour (test)"; }
  std::size_t bytes() const override { return 0; }
  mutable std::atomic<int> calls{0};
};

// Predicts one fixed class with confidence 1; checks the calling contract.
struct BehaviourLog {
  std::mutex mu;
  int streams = 0;
  cv::Size frame_size;
  double fps = 0;
  int64_t observations = 0;
  int64_t out_of_order = 0;   // an observation of a track older than its previous one
  int64_t after_drop = 0;     // observations of an id after drop(id)
  int64_t with_mask = 0, with_embedding = 0;
  int64_t revisions = 0;      // revised() calls answered
  std::set<int> dropped;
};

class ConstantBehaviour : public eh::animal::BehaviourModel {
 public:
  // lag > 0: the model asks for its labels to be revised `lag` frames later, and revised()
  // answers `revised_label` for every track it still knows.
  ConstantBehaviour(eh::data::Behaviour label, std::shared_ptr<BehaviourLog> log, int lag = 0,
                    eh::data::Behaviour revised_label = eh::data::Behaviour::Unknown)
      : label_(label), revised_(revised_label), lag_(lag), log_(std::move(log)) {}
  class Stream : public eh::animal::BehaviourStream {
   public:
    Stream(const ConstantBehaviour& m) : m_(m) {}
    std::vector<eh::animal::BehaviourPrediction> update(const std::vector<eh::animal::TrackObservation>& obs) override {
      std::lock_guard<std::mutex> lk(m_.log_->mu);
      std::vector<eh::animal::BehaviourPrediction> p(obs.size());
      for (std::size_t i = 0; i < obs.size(); ++i) {
        const auto& o = obs[i];
        ++m_.log_->observations;
        if (last_.count(o.id) && o.t < last_[o.id]) ++m_.log_->out_of_order;
        last_[o.id] = o.t;
        if (m_.log_->dropped.count(o.id)) ++m_.log_->after_drop;
        if (o.mask) ++m_.log_->with_mask;
        if (o.embedding && !o.embedding->empty()) ++m_.log_->with_embedding;
        p[i].label = m_.label_;
        p[i].confidence = 1.0f;
        p[i].probs[static_cast<std::size_t>(m_.label_)] = 1.0f;
      }
      return p;
    }
    void drop(int id) override {
      std::lock_guard<std::mutex> lk(m_.log_->mu);
      m_.log_->dropped.insert(id);
      last_.erase(id);
    }
    std::optional<eh::animal::BehaviourPrediction> revised(int id, double /*t*/) override {
      std::lock_guard<std::mutex> lk(m_.log_->mu);
      if (m_.lag_ == 0 || !last_.count(id)) return std::nullopt;
      ++m_.log_->revisions;
      eh::animal::BehaviourPrediction p;
      p.label = m_.revised_;
      p.confidence = 1.0f;
      p.probs[static_cast<std::size_t>(m_.revised_)] = 1.0f;
      return p;
    }

   private:
    const ConstantBehaviour& m_;
    std::map<int, double> last_;
  };
  std::unique_ptr<eh::animal::BehaviourStream> new_stream(cv::Size frame_size, double fps) const override {
    std::lock_guard<std::mutex> lk(log_->mu);
    ++log_->streams;
    log_->frame_size = frame_size;
    log_->fps = fps;
    return std::make_unique<Stream>(*this);
  }
  int embedding_dim() const override { return 0; }
  std::string name() const override { return "constant (test)"; }
  std::size_t bytes() const override { return 0; }
  int lag_frames() const override { return lag_; }

 private:
  eh::data::Behaviour label_, revised_;
  int lag_ = 0;
  std::shared_ptr<BehaviourLog> log_;
};

}  // namespace eh::test
