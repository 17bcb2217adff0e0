// The model side of a stream: something that turns a frame into instances. A Segmenter is
// shared, read-only state (weights); segment() is const and must be safe to call from several
// sessions (streams) at once. Per-stream state lives in video::Session.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "track/detections.h"
#include "video/source.h"

namespace eh::video {

class Segmenter {
 public:
  virtual ~Segmenter() = default;
  virtual eh::track::Detections segment(const cv::Mat& image) const = 0;
  // Segmenters that need frame metadata (ground truth) override this one.
  virtual eh::track::Detections segment(const Frame& frame) const { return segment(frame.image); }
  virtual std::string name() const = 0;
  virtual std::size_t bytes() const { return 0; }  // weights held
};

struct GroundTruthOptions {
  int min_visible_pixels = 1;  // pigs with fewer visible pixels are not reported
  bool masks = true;           // RLE masks of the visible part (needs SimConfig::masks)
  // > 0: attach synthetic appearance embeddings of this dimension (a fixed random direction per
  // animal plus fresh Gaussian noise per frame, cosine ~ 1 / (1 + noise^2) between two frames
  // of one animal, ~ 0 between animals): stands in for an embedder when isolating the tracker.
  int embedding_dim = 0;
  float embedding_noise = 0.5f;
  uint64_t seed = 1;
};

// Returns the simulator's ground-truth instances of a frame (box = bounding box of the visible
// mask, score 1) in id order. The identities are NOT passed on: the tracker must find them;
// `ids_of` gives them to tests and to evaluation.
class GroundTruthSegmenter : public Segmenter {
 public:
  explicit GroundTruthSegmenter(const GroundTruthOptions& opt = {});
  // Throws eh::Error: ground truth comes with frames from the simulator source.
  eh::track::Detections segment(const cv::Mat& image) const override;
  eh::track::Detections segment(const Frame& frame) const override;
  std::string name() const override { return "ground-truth instances"; }
  // The ground-truth ids of the instances segment(frame) returns, in the same order.
  std::vector<int> ids_of(const Frame& frame) const;
  const GroundTruthOptions& options() const { return opt_; }

 private:
  GroundTruthOptions opt_;
};

}  // namespace eh::video
