// Attaches the per-animal embedder's vectors to any segmenter's instances (as
// video/appearance.h does with colour histograms), so the tracker and the behaviour model see
// DINOv3-architecture embeddings.
#pragma once
#include <memory>

#include "animal/embedder.h"
#include "video/segmenter.h"

namespace eh::animal {

// The embedder's rows for `d`'s boxes, with `d`'s masks (its RLEs, or its full-frame masks
// encoded) when the embedder reads them; what EmbeddingSegmenter and the pipeline call.
std::vector<std::vector<float>> embed_detections(const Embedder& embedder, const cv::Mat& image, const eh::track::Detections& d);

class EmbeddingSegmenter : public eh::video::Segmenter {
 public:
  // Throws eh::Error when either is null.
  EmbeddingSegmenter(std::shared_ptr<const eh::video::Segmenter> inner, std::shared_ptr<const Embedder> embedder);
  eh::track::Detections segment(const cv::Mat& image) const override;
  eh::track::Detections segment(const eh::video::Frame& frame) const override;
  std::string name() const override;
  std::size_t bytes() const override { return inner_->bytes() + embedder_->bytes(); }

 private:
  void attach(const cv::Mat& image, eh::track::Detections& d) const;
  std::shared_ptr<const eh::video::Segmenter> inner_;
  std::shared_ptr<const Embedder> embedder_;
};

}  // namespace eh::animal
