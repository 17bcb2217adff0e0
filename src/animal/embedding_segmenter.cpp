#include "animal/embedding_segmenter.h"

#include "core/error.h"

namespace eh::animal {

EmbeddingSegmenter::EmbeddingSegmenter(std::shared_ptr<const eh::video::Segmenter> inner,
                                       std::shared_ptr<const Embedder> embedder)
    : inner_(std::move(inner)), embedder_(std::move(embedder)) {
  if (!inner_ || !embedder_) throw Error("EmbeddingSegmenter: inner segmenter and embedder must not be null");
}

std::vector<std::vector<float>> embed_detections(const Embedder& embedder, const cv::Mat& image, const eh::track::Detections& d) {
  std::vector<eh::data::Rle> encoded;
  return embedder.embed(image, d.boxes, embedder.reads_masks() ? d.mask_rles(&encoded) : nullptr);
}

std::string EmbeddingSegmenter::name() const { return inner_->name() + " + " + embedder_->name(); }

void EmbeddingSegmenter::attach(const cv::Mat& image, eh::track::Detections& d) const {
  if (image.empty() || d.empty()) return;
  std::vector<std::vector<float>> e = embed_detections(*embedder_, image, d);
  // All or none: an instance whose box misses the image gets the mean of the others (neutral).
  std::vector<float> mean(static_cast<size_t>(embedder_->dim()), 0.0f);
  std::vector<bool> zero(e.size());
  int k = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    double n = 0;
    for (float v : e[i]) n += double(v) * v;
    zero[i] = n == 0;
    if (zero[i]) continue;
    for (size_t j = 0; j < mean.size(); ++j) mean[j] += e[i][j];
    ++k;
  }
  if (k == 0) return;
  for (float& v : mean) v /= static_cast<float>(k);
  for (size_t i = 0; i < e.size(); ++i)
    if (zero[i]) e[i] = mean;
  d.embeddings = std::move(e);
}

eh::track::Detections EmbeddingSegmenter::segment(const cv::Mat& image) const {
  eh::track::Detections d = inner_->segment(image);
  attach(image, d);
  return d;
}

eh::track::Detections EmbeddingSegmenter::segment(const eh::video::Frame& frame) const {
  eh::track::Detections d = inner_->segment(frame);
  attach(frame.image, d);
  return d;
}

}  // namespace eh::animal
